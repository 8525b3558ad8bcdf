#!/usr/bin/env python3
"""Checks template.yaml as the SAM translator expands it (make validate).

  scripts/validate-template.py [--calls .local/iam-calls.jsonl] [template.yaml]

It transforms the template with samtranslator (installed with cfn-lint),
offline, and asserts on the generated CloudFormation:

  - the API has exactly one stage, with throttling defaults;
  - every API method has the Lambda authorizer, unless its event in the
    template says Auth: {Authorizer: NONE}; every authorizer's result TTL is 0;
  - each function's role covers every DynamoDB call the tests recorded for it
    (the local stack's IAM layer, local/localiam, writes them to the file that
    LOCAL_IAM_RECORD names); grants that no recorded call used are listed;
  - operations: every function logs to its own log group with a retention,
    no role reads every stream (AWSLambdaDynamoDBExecutionRole), the tables
    are deletion-protected when Stage is prod, queues and log groups are
    retained, and the alarms exist.

Standard library, samtranslator and PyYAML (both come with cfn-lint). Where
they are missing, it says so in one line and exits 0. No AWS account and no
network are needed.
"""

import argparse
import copy
import json
import logging
import os
import re
import sys

try:
    import yaml
    from samtranslator.translator.transform import transform
except ImportError as e:  # pragma: no cover
    print(f"validate: skipped: the Python module {e.name} is not installed (cfn-lint brings samtranslator and PyYAML)")
    sys.exit(0)

REGION, ACCOUNT = "us-east-1", "123456789012"

# AWS managed policies SAM attaches, with the statements that matter here.
MANAGED = {
    "AWSLambdaBasicExecutionRole": [
        {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}],
    "AWSXrayWriteOnlyAccess": [
        {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                                       "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"], "Resource": "*"}],
    "AWSLambdaDynamoDBExecutionRole": [
        {"Effect": "Allow", "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                                       "dynamodb:ListStreams"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}],
}


class Failed(Exception):
    pass


# ---------------------------------------------------------------- loading

class _Loader(yaml.SafeLoader):
    pass


def _tag(name):
    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            v = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            v = loader.construct_sequence(node, deep=True)
        else:
            v = loader.construct_mapping(node, deep=True)
        if name in ("Ref", "Condition"):
            return {name: v}
        if name == "GetAtt" and isinstance(v, str):
            return {"Fn::GetAtt": v.split(".", 1)}
        return {"Fn::" + name: v}
    return construct


for _name in ("Ref", "Condition", "GetAtt", "Sub", "Join", "If", "Equals", "Not", "And", "Or", "Select", "Split",
              "FindInMap", "Base64", "Cidr", "GetAZs", "ImportValue", "Transform"):
    _Loader.add_constructor("!" + _name, _tag(_name))


class _NoManagedPolicies:
    """The translator asks for managed policy names only when Policies name
    one; this template writes its statements inline."""

    def load(self):
        return {}


def expand(template, params):
    """Runs the SAM translator, as cfn-lint does: local CodeUris replaced by
    an S3 location, no network."""
    tpl = copy.deepcopy(template)
    tpl.setdefault("Globals", {}).setdefault("Function", {})
    if "CodeUri" in tpl["Globals"]["Function"]:
        tpl["Globals"]["Function"]["CodeUri"] = "s3://bucket/code.zip"
    for r in tpl["Resources"].values():
        if r.get("Type") == "AWS::Serverless::Function" and "CodeUri" in r.get("Properties", {}):
            r["Properties"]["CodeUri"] = "s3://bucket/code.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    logging.disable(logging.CRITICAL)  # the translator's feature-toggle chatter
    return transform(tpl, dict(params), _NoManagedPolicies())


# ---------------------------------------------------------- intrinsics

NO_VALUE = object()


class Resolver:
    """Evaluates the intrinsic functions of the generated template with the
    local account, region and parameter values."""

    def __init__(self, cfn, params):
        self.cfn, self.params = cfn, params

    def param(self, name):
        pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                  "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "flowella"}
        if name in pseudo:
            return pseudo[name]
        if name in self.params:
            return self.params[name]
        p = self.cfn.get("Parameters", {}).get(name)
        if p is not None:
            return str(p.get("Default", ""))
        r = self.cfn["Resources"].get(name)
        if r is not None:
            return name  # a table's name is its logical id here, as in the recorded calls
        raise Failed(f"!Ref {name}: unknown")

    def get_att(self, rid, attr):
        r = self.cfn["Resources"].get(rid)
        if r is None:
            raise Failed(f"!GetAtt {rid}.{attr}: no such resource")
        if r["Type"] == "AWS::DynamoDB::Table":
            arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{rid}"
            if attr == "Arn":
                return arn
            if attr == "StreamArn":
                return arn + "/stream/*"
        if attr == "Arn":
            if r["Type"] == "AWS::Logs::LogGroup":
                return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{rid}:*"
            service = r["Type"].split("::")[1].lower()
            return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{rid}"
        return f"{rid}.{attr}"

    def condition(self, name):
        return self.eval(self.cfn.get("Conditions", {})[name]) is True

    def eval(self, v):
        if isinstance(v, list):
            return [x for x in (self.eval(i) for i in v) if x is not NO_VALUE]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (fn, arg), = v.items()
            if fn == "Ref":
                return NO_VALUE if arg == "AWS::NoValue" else self.param(arg)
            if fn == "Condition":
                return self.condition(arg)
            if fn == "Fn::GetAtt":
                rid, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(rid, attr)
            if fn == "Fn::If":
                return self.eval(arg[1] if self.condition(arg[0]) else arg[2])
            if fn == "Fn::Equals":
                a, b = (self.eval(x) for x in arg)
                return str(a) == str(b)
            if fn == "Fn::Not":
                return not self.eval(arg[0])
            if fn == "Fn::And":
                return all(self.eval(x) for x in arg)
            if fn == "Fn::Or":
                return any(self.eval(x) for x in arg)
            if fn == "Fn::Join":
                return arg[0].join(str(x) for x in self.eval(arg[1]))
            if fn == "Fn::Split":
                return self.eval(arg[1]).split(arg[0])
            if fn == "Fn::Select":
                return self.eval(arg[1])[int(self.eval(arg[0]))]
            if fn == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], {k: self.eval(x) for k, x in arg[1].items()})

                def sub(m):
                    name = m.group(1)
                    if name in variables:
                        return str(variables[name])
                    if "." in name:
                        return self.get_att(*name.split(".", 1))
                    return str(self.param(name))
                return re.sub(r"\$\{([^!}][^}]*)\}", sub, text).replace("${!", "${")
            if fn.startswith("Fn::"):
                raise Failed(f"{fn}: not evaluated by validate-template.py")
        return {k: x for k, x in ((k, self.eval(x)) for k, x in v.items()) if x is not NO_VALUE}


# ------------------------------------------------------------- IAM

def match(pattern, s, fold=False):
    if fold:
        pattern, s = pattern.lower(), s.lower()
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, s, re.S) is not None


def as_list(v):
    return v if isinstance(v, list) else [v]


MULTIVALUED = {"dynamodb:Attributes", "dynamodb:LeadingKeys"}


def condition_holds(op, key, values, ctx):
    values = [str(x).lower() if isinstance(x, bool) else str(x) for x in as_list(values)]
    setop = None
    if ":" in op:
        setop, op = op.split(":", 1)
    if_exists = op.endswith("IfExists")
    base = op[:-len("IfExists")] if if_exists else op
    if base not in ("StringEquals", "StringNotEquals", "StringLike", "StringNotLike") or setop not in (None, "ForAllValues", "ForAnyValue"):
        raise Failed(f"condition operator {op} is not evaluated by validate-template.py")
    negated, like = "Not" in base, base.endswith("Like")

    def one(v):
        hit = any(match(w, v) if like else w == v for w in values)
        return not hit if negated else hit
    got = ctx.get(key)
    if setop == "ForAllValues":
        return all(one(v) for v in (got or []))
    if setop == "ForAnyValue":
        return any(one(v) for v in (got or []))
    if not got:
        return if_exists or negated
    return all(one(v) for v in got)


def statement_matches(st, action, resource, ctx):
    if "Action" in st and not any(match(a, action, True) for a in as_list(st["Action"])):
        return False
    if "NotAction" in st and any(match(a, action, True) for a in as_list(st["NotAction"])):
        return False
    if "Resource" in st and not any(match(r, resource) for r in as_list(st["Resource"])):
        return False
    if "NotResource" in st and any(match(r, resource) for r in as_list(st["NotResource"])):
        return False
    for op, keys in st.get("Condition", {}).items():
        for key, values in keys.items():
            if not condition_holds(op, key, values, ctx):
                return False
    return True


def allowed(statements, action, resource, ctx):
    ok = False
    for st in statements:
        if statement_matches(st, action, resource, ctx):
            if st["Effect"] == "Deny":
                return False
            ok = True
    return ok


def role_of(cfn, fn):
    role = cfn["Resources"][fn]["Properties"].get("Role", {})
    getatt = role.get("Fn::GetAtt") if isinstance(role, dict) else None
    if not getatt or getatt[1] != "Arn" or cfn["Resources"].get(getatt[0], {}).get("Type") != "AWS::IAM::Role":
        raise Failed(f"{fn}: its Role is not a role of this template")
    return getatt[0]


def role_statements(cfn, resolver, role_id):
    """The role's statements (intrinsics evaluated) and its managed policies."""
    props = resolver.eval(cfn["Resources"][role_id]["Properties"])
    statements, managed = [], []
    for arn in props.get("ManagedPolicyArns", []):
        name = arn.rsplit("/", 1)[-1]
        if name not in MANAGED:
            raise Failed(f"role {role_id}: managed policy {arn} is not known to validate-template.py")
        managed.append(name)
        statements += [dict(s, _managed=name) for s in MANAGED[name]]
    for p in props.get("Policies", []):
        for st in as_list(p["PolicyDocument"]["Statement"]):
            statements.append(dict(st, _policy=p.get("PolicyName", "")))
    return statements, managed


# ----------------------------------------------------------- checks

def check_stages(cfn, out):
    stages = {k: v for k, v in cfn["Resources"].items() if v["Type"] == "AWS::ApiGateway::Stage"}
    for k, v in sorted(stages.items()):
        out.append(f"stage {k} (AWS::ApiGateway::Stage): StageName {json.dumps(v['Properties'].get('StageName'))}")
    # A deployment with a StageName creates that stage too (SAM's "Stage"
    # stage, without OpenApiVersion): no access log, no tracing.
    implicit = {k: v["Properties"]["StageName"] for k, v in cfn["Resources"].items()
                if v["Type"] == "AWS::ApiGateway::Deployment" and "StageName" in v["Properties"]}
    for k, name in sorted(implicit.items()):
        out.append(f"stage {json.dumps(name)} created by the deployment {k}")
    if len(stages) + len(implicit) != 1:
        raise Failed(f"want one stage, the translator generated {len(stages) + len(implicit)}")
    (stage,) = stages.values()
    settings = stage["Properties"].get("MethodSettings", [])
    if not any(s.get("ResourcePath") == "/*" and s.get("HttpMethod") == "*" and "ThrottlingRateLimit" in s
               and "ThrottlingBurstLimit" in s for s in settings):
        raise Failed("the stage has no default throttling (MethodSettings for /* and *)")
    # An access log needs API Gateway's account-level CloudWatch Logs role:
    # where the account has none, creating the stage fails. The stack sets
    # it (AWS::ApiGateway::Account), and the stage is made after it.
    if "AccessLogSetting" in stage["Properties"]:
        accounts = [k for k, v in cfn["Resources"].items() if v["Type"] == "AWS::ApiGateway::Account"
                    and v.get("Properties", {}).get("CloudWatchRoleArn")]
        if len(accounts) != 1:
            raise Failed("the stage has an access log, but no AWS::ApiGateway::Account sets the account's CloudWatch Logs role")
        if not depends_on(cfn, stage, accounts[0]):
            raise Failed(f"the stage with an access log does not wait for {accounts[0]} (the account's CloudWatch Logs role)")
        out.append(f"access log: the account's CloudWatch Logs role set by {accounts[0]}, before the stage")


def depends_on(cfn, resource, target, seen=None):
    """Whether resource waits for target: through DependsOn, Ref or GetAtt, transitively."""
    seen = set() if seen is None else seen
    refs = set(as_list(resource.get("DependsOn", [])))

    def walk(v):
        if isinstance(v, dict):
            if "Ref" in v and isinstance(v["Ref"], str):
                refs.add(v["Ref"])
            if "Fn::GetAtt" in v:
                att = v["Fn::GetAtt"]
                refs.add(att[0] if isinstance(att, list) else att.split(".")[0])
            if "Fn::Sub" in v:
                text = v["Fn::Sub"][0] if isinstance(v["Fn::Sub"], list) else v["Fn::Sub"]
                if isinstance(text, str):
                    refs.update(m.split(".")[0] for m in re.findall(r"\$\{([A-Za-z0-9.]+)\}", text))
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(resource.get("Properties", {}))
    for r in refs - seen:
        seen.add(r)
        if r == target or (r in cfn["Resources"] and depends_on(cfn, cfn["Resources"][r], target, seen)):
            return True
    return False


def public_routes(template):
    public = set()
    for r in template["Resources"].values():
        if r.get("Type") != "AWS::Serverless::Function":
            continue
        for ev in r.get("Properties", {}).get("Events", {}).values():
            p = ev.get("Properties", {})
            if ev.get("Type") == "Api" and p.get("Auth", {}).get("Authorizer") == "NONE":
                public.add((p["Method"].lower(), p["Path"]))
    return public


def check_authorizers(template, cfn, out):
    public = public_routes(template)
    methods = 0
    for rid, r in cfn["Resources"].items():
        if r["Type"] != "AWS::ApiGateway::RestApi":
            continue
        body = r["Properties"].get("Body", {})
        schemes = body.get("components", {}).get("securitySchemes", {}) or body.get("securityDefinitions", {})
        authorizers = {name for name, s in schemes.items() if "x-amazon-apigateway-authorizer" in s}
        for name in sorted(authorizers):
            ttl = schemes[name]["x-amazon-apigateway-authorizer"].get("authorizerResultTtlInSeconds", 300)
            if ttl != 0:
                raise Failed(f"{rid}: authorizer {name} caches results for {ttl} s; revocation must act at once (TTL 0)")
        for path, ops in body.get("paths", {}).items():
            for method, op in ops.items():
                if method.startswith("x-"):
                    continue
                methods += 1
                guarded = any(set(req) & authorizers for req in op.get("security", []))
                if not guarded and (method, path) not in public:
                    raise Failed(f"{rid}: {method.upper()} {path} has no authorizer and the template does not mark it public")
        out.append(f"{rid}: {methods} methods, each behind {', '.join(sorted(authorizers))} (result TTL 0)"
                   + (f"; public: {sorted(public)}" if public else ""))


def check_operations(template, cfn, out):
    res = cfn["Resources"]
    for rid, r in sorted(res.items()):
        if r["Type"] == "AWS::Lambda::Function":
            group = r["Properties"].get("LoggingConfig", {}).get("LogGroup", {})
            gid = group.get("Ref") if isinstance(group, dict) else None
            if gid not in res or res[gid]["Type"] != "AWS::Logs::LogGroup" or "RetentionInDays" not in res[gid]["Properties"]:
                raise Failed(f"{rid} does not log to a log group of the template with a retention (LoggingConfig.LogGroup)")
        if r["Type"] in ("AWS::SQS::Queue", "AWS::Logs::LogGroup") and r.get("DeletionPolicy") != "Retain":
            raise Failed(f"{rid} ({r['Type']}) has no DeletionPolicy: Retain")
        if r["Type"] == "AWS::IAM::Role":
            for arn in r["Properties"].get("ManagedPolicyArns", []):
                if "AWSLambdaDynamoDBExecutionRole" in json.dumps(arn):
                    raise Failed(f"{rid} has AWSLambdaDynamoDBExecutionRole, which reads every stream of the account")
    prod = Resolver(cfn, {"Stage": "prod"})
    for rid, r in sorted(res.items()):
        if r["Type"] == "AWS::DynamoDB::Table" and prod.eval(r["Properties"].get("DeletionProtectionEnabled")) is not True:
            raise Failed(f"{rid} is not deletion-protected when Stage is prod")
    alarms = [r["Properties"] for r in res.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    text = json.dumps(alarms)
    for what, needle in (("dead-letter queue not empty", "ApproximateNumberOfMessagesVisible"),
                         ("authorizer errors", "AuthorizerErrors"), ("throttles", "Throttle"), ("5xx rate", "5XXError"),
                         ("unreadable key activity lines", "ActivityUnreadableLines")):
        if needle not in text:
            raise Failed(f"no alarm on {what}")
    with_topic = Resolver(cfn, {"AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:ops"})
    for a in alarms:
        if "arn:aws:sns:us-east-1:123456789012:ops" not in with_topic.eval(a.get("AlarmActions", [])):
            raise Failed(f"alarm {a.get('AlarmDescription', '')[:60]!r} does not notify AlarmTopicArn")
    functions = sum(1 for r in res.values() if r["Type"] == "AWS::Lambda::Function")
    out.append(f"{functions} functions log to their own groups with a retention; tables deletion-protected in prod; "
               f"queues and log groups retained; {len(alarms)} alarms notify AlarmTopicArn when set")


def load_calls(paths):
    calls = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        calls.append(json.loads(line))
                    except json.JSONDecodeError as e:
                        raise Failed(f"{path}:{n}: {e}") from e
    return calls


def check_roles(cfn, calls, out):
    resolver = Resolver(cfn, {})
    functions = sorted(k for k, v in cfn["Resources"].items() if v["Type"] == "AWS::Lambda::Function")
    problems, unused, rows = [], [], []
    seen = set()
    for fn in functions:
        statements, managed = role_statements(cfn, resolver, role_of(cfn, fn))
        mine = [c for c in calls if c["function"] == fn]
        used = set()
        recorded = {}
        for c in mine:
            ctx = c.get("context") or {}
            key = (c["action"], c["resource"], json.dumps(ctx, sort_keys=True))
            if (fn,) + key in seen:
                continue
            seen.add((fn,) + key)
            if not c["allowed"]:
                problems.append(f"{fn}: {c['action']} on {c['resource']} was denied by the local IAM layer during the tests")
            if not allowed(statements, c["action"], c["resource"], ctx):
                problems.append(f"{fn}: its generated role does not allow {c['action']} on {c['resource']}"
                                + (f" with {json.dumps(ctx, sort_keys=True)}" if ctx else ""))
                continue
            recorded.setdefault(c["action"], set()).add(short(c["resource"]))
            for i, st in enumerate(statements):
                if st["Effect"] == "Allow" and statement_matches(st, c["action"], c["resource"], ctx):
                    for a in as_list(st.get("Action", [])):
                        if match(a, c["action"], True):
                            for r in as_list(st.get("Resource", [])):
                                if match(r, c["resource"]):
                                    used.add((i, a, r))
        grants, others = {}, set()
        for i, st in enumerate(statements):
            if st["Effect"] != "Allow" or "_managed" in st:
                continue
            for a in as_list(st.get("Action", [])):
                if not a.lower().startswith("dynamodb:"):
                    others.add(a)  # not a DynamoDB call: nothing records it locally
                    continue
                for r in as_list(st.get("Resource", [])):
                    grants.setdefault(a, set()).add(short(r) + (" [if conditions hold]" if "Condition" in st else ""))
                    if (i, a, r) not in used:
                        unused.append(f"{fn}: {a} on {short(r)}")
        rows.append((fn, recorded, grants, managed, others))
    out.append(f"{len(calls)} recorded calls, {len(seen)} distinct, against {len(functions)} roles")
    for fn, recorded, grants, managed, others in rows:
        out.append(f"  {fn}")
        out.append("    recorded: " + ("; ".join(f"{a} {', '.join(sorted(r))}" for a, r in sorted(recorded.items())) or "no DynamoDB calls"))
        out.append("    granted:  " + ("; ".join(f"{a} {', '.join(sorted(r))}" for a, r in sorted(grants.items())) or "no DynamoDB action"))
        if others or managed:
            out.append("    also:     " + ", ".join(sorted(others) + [f"managed {m}" for m in managed]) + " (not recorded locally)")
    if unused:
        out.append("DynamoDB grants no recorded call used:")
        out += [f"  {u}" for u in unused]
    if problems:
        raise Failed("roles do not cover the recorded calls:\n  " + "\n  ".join(problems))


def short(arn):
    if not isinstance(arn, str):
        return json.dumps(arn)
    m = re.match(r"arn:aws:dynamodb:[^:]*:[^:]*:table/(.*)", arn)
    return m.group(1) if m else arn


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("template", nargs="?", default="template.yaml")
    ap.add_argument("--calls", action="append", default=[],
                    help="JSON lines of recorded calls (LOCAL_IAM_RECORD); repeatable")
    args = ap.parse_args()
    with open(args.template, encoding="utf-8") as f:
        template = yaml.load(f, Loader=_Loader)
    failures = 0
    try:
        cfn = expand(template, {})
    except Exception as e:  # the translator's InvalidDocumentException and friends
        causes = getattr(e, "causes", None)
        print(f"validate: FAIL: the SAM translator refused {args.template}: {e}")
        for c in causes or []:
            print(f"  {c}")
        return 1
    checks = [("stages", lambda out: check_stages(cfn, out)),
              ("authorizer", lambda out: check_authorizers(template, cfn, out)),
              ("operations", lambda out: check_operations(template, cfn, out))]
    calls_files = [p for p in args.calls if os.path.exists(p) and os.path.getsize(p) > 0]
    if calls_files:
        checks.append(("roles", lambda out: check_roles(cfn, load_calls(calls_files), out)))
    for name, check in checks:
        out = []
        try:
            check(out)
            status = "ok"
        except Failed as e:
            status, failures = "FAIL", failures + 1
            out.append(str(e))
        print(f"validate: {name}: {status}")
        for line in out:
            print(f"  {line}")
    if not calls_files:
        print(f"validate: roles: FAIL: no recorded calls in {', '.join(args.calls) or '(none given)'}: "
              "run the local stack's tests with LOCAL_IAM_RECORD set (make test, make validate do)")
        failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
