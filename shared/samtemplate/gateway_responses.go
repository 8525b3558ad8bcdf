package samtemplate

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// GatewayResponse is one entry of an Api's GatewayResponses: how API Gateway
// answers a request it refuses itself.
type GatewayResponse struct {
	StatusCode int               // 0: the response type's own status
	Headers    map[string]string // header values unquoted ('Bearer' → Bearer)
	Template   string            // the application/json response template
}

// GatewayResponses returns the Api's GatewayResponses by response type
// (UNAUTHORIZED, DEFAULT_4XX, …).
func (t *Template) GatewayResponses(api string) (map[string]GatewayResponse, error) {
	r, ok := t.Resources[api]
	if !ok || r.Type != "AWS::Serverless::Api" {
		return nil, fmt.Errorf("template: %s is not an AWS::Serverless::Api", api)
	}
	var p struct {
		GatewayResponses map[string]struct {
			StatusCode         any
			ResponseParameters struct{ Headers map[string]string }
			ResponseTemplates  map[string]string
		}
	}
	if err := json.Unmarshal(r.Properties, &p); err != nil {
		return nil, fmt.Errorf("api %s GatewayResponses: %w", api, err)
	}
	out := map[string]GatewayResponse{}
	for typ, g := range p.GatewayResponses {
		resp := GatewayResponse{Headers: map[string]string{}, Template: g.ResponseTemplates["application/json"]}
		if g.StatusCode != nil {
			code, err := strconv.Atoi(fmt.Sprint(g.StatusCode))
			if err != nil || code < 100 || code > 599 {
				return nil, fmt.Errorf("api %s GatewayResponses.%s: StatusCode %v is not an HTTP status", api, typ, g.StatusCode)
			}
			resp.StatusCode = code
		}
		for k, v := range g.ResponseParameters.Headers {
			// Static values are single-quoted in API Gateway mappings.
			if len(v) < 2 || !strings.HasPrefix(v, "'") || !strings.HasSuffix(v, "'") {
				return nil, fmt.Errorf("api %s GatewayResponses.%s: header %s must be a quoted static value", api, typ, k)
			}
			resp.Headers[k] = v[1 : len(v)-1]
		}
		out[typ] = resp
	}
	return out, nil
}

// AccessLogFormat is the Api's access log format, with its $context
// variables; "" when the Api writes no access log.
func (t *Template) AccessLogFormat(api string) string {
	var p struct {
		AccessLogSetting struct{ Format string }
	}
	if r, ok := t.Resources[api]; ok {
		_ = json.Unmarshal(r.Properties, &p)
	}
	return p.AccessLogSetting.Format
}
