package localgw_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/flowella/apikeys/local/localfn"
	"github.com/flowella/apikeys/local/localgw"
	"github.com/flowella/apikeys/local/syncbuf"
	"github.com/flowella/apikeys/shared/samtemplate"
)

// authorizer decides by the bearer token, as a test needs.
func authorizer(_ context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	effect := ""
	switch ev.Headers["Authorization"] {
	case "Bearer allow":
		effect = "Allow"
	case "Bearer deny":
		effect = "Deny"
	case "Bearer broken":
		return events.APIGatewayCustomAuthorizerResponse{}, errors.New("storage down")
	default:
		return events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized")
	}
	return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "p", PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
		Version: "2012-10-17",
		Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: effect,
			Resource: []string{ev.MethodArn}}},
	}}, nil
}

func newGateway(t *testing.T, responses map[string]samtemplate.GatewayResponse, handler any) *httptest.Server {
	t.Helper()
	routes := []localgw.Route{{Method: "GET", Resource: "/v1/things/{id}", Function: "Things",
		Handler: localfn.New("Things", handler, 1), Authorizer: localfn.New("Auth", authorizer, 0)}}
	srv := httptest.NewServer(localgw.New(routes, localgw.API{Responses: responses}, io.Discard, nil))
	t.Cleanup(srv.Close)
	return srv
}

func templateResponses(t *testing.T) map[string]samtemplate.GatewayResponse {
	t.Helper()
	tpl, err := samtemplate.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := tpl.GatewayResponses("FlowellaApi")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func get(t *testing.T, url, auth string) (int, http.Header, map[string]any, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	return resp.StatusCode, resp.Header, body, string(raw)
}

func ok(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	return events.APIGatewayProxyResponse{StatusCode: 200, Body: `{"ok":true}`}, nil
}

// The gateway answers its own refusals with the template's GatewayResponses,
// as API Gateway does once deployed.
func TestRefusalsUseTheTemplatesGatewayResponses(t *testing.T) {
	srv := newGateway(t, templateResponses(t), ok)
	tests := []struct {
		name, path, auth string
		status           int
		code             string
	}{
		{"allowed", "/v1/things/1", "Bearer allow", 200, ""},
		{"no such route", "/v1/nothing", "Bearer allow", 404, "not_found"},
		{"no Authorization header", "/v1/things/1", "", 401, "unauthorized"},
		{"authorizer says Unauthorized", "/v1/things/1", "Bearer nope", 401, "unauthorized"},
		{"explicit deny", "/v1/things/1", "Bearer deny", 403, "forbidden"},
		{"authorizer fails", "/v1/things/1", "Bearer broken", 500, "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, header, body, raw := get(t, srv.URL+tt.path, tt.auth)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, raw)
			}
			if tt.code == "" {
				return
			}
			e, _ := body["error"].(map[string]any)
			if e["code"] != tt.code || e["message"] == "" || body["request_id"] != header.Get("X-Amzn-RequestId") {
				t.Fatalf("body %s, want code %s and the request id %s", raw, tt.code, header.Get("X-Amzn-RequestId"))
			}
			if status == 401 && header.Get("WWW-Authenticate") != "Bearer" {
				t.Fatalf("401 without WWW-Authenticate: %v", header)
			}
		})
	}
}

// A function at its concurrency limit is throttled; API Gateway answers a
// throttled Lambda integration with a 5xx, here in the project's format.
func TestThrottledFunctionIsA5xx(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	slow := func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		entered <- struct{}{}
		<-release
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}
	srv := newGateway(t, templateResponses(t), slow)
	done := make(chan int)
	go func() { s, _, _, _ := get(t, srv.URL+"/v1/things/1", "Bearer allow"); done <- s }()
	<-entered
	status, _, body, raw := get(t, srv.URL+"/v1/things/2", "Bearer allow")
	close(release)
	if first := <-done; first != 200 {
		t.Fatalf("first request: %d", first)
	}
	if e, _ := body["error"].(map[string]any); status != 500 || e["code"] != "internal" {
		t.Fatalf("second request while the only environment is busy: %d %s", status, raw)
	}
}

// Without GatewayResponses the gateway answers as API Gateway does by default.
func TestBuiltInBodiesWithoutGatewayResponses(t *testing.T) {
	srv := newGateway(t, nil, ok)
	for path, want := range map[string]string{
		"/v1/nothing":  `{"message":"Missing Authentication Token"}`,
		"/v1/things/1": `{"message":"Forbidden"}`,
	} {
		if _, _, _, raw := get(t, srv.URL+path, "Bearer deny"); raw != want {
			t.Errorf("%s: %s, want %s", path, raw, want)
		}
	}
}

// The access log is the template's format, filled as API Gateway fills it:
// every value a string, "-" where the request has none.
func TestAccessLogFollowsTheTemplatesFormat(t *testing.T) {
	tpl, err := samtemplate.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	format := tpl.AccessLogFormat("FlowellaApi")
	if format == "" {
		t.Fatal("the template's API has no access log format")
	}
	var log syncbuf.Buffer
	routes := []localgw.Route{{Method: "GET", Resource: "/v1/things/{id}", Function: "Things",
		Handler: localfn.New("Things", ok, 1), Authorizer: localfn.New("Auth", authorizer, 0)}}
	srv := httptest.NewServer(localgw.New(routes, localgw.API{AccessLogFormat: format}, &log, nil))
	defer srv.Close()
	_, header, _, _ := get(t, srv.URL+"/v1/things/1?x=1", "Bearer deny")
	var line map[string]any
	if err := json.Unmarshal([]byte(log.String()), &line); err != nil {
		t.Fatalf("access log line is not JSON: %q", log.String())
	}
	var want map[string]any
	_ = json.Unmarshal([]byte(format), &want)
	for k := range want {
		if _, isString := line[k].(string); !isString {
			t.Errorf("%s = %#v, want a string as the template's format gives", k, line[k])
		}
	}
	if line["status"] != "403" || line["request_id"] != header.Get("X-Amzn-RequestId") || line["path"] != "/v1/things/1" ||
		line["user_id"] != "-" {
		t.Fatalf("access log line %v", line)
	}
}
