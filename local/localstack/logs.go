package localstack

import (
	"io"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/flowella/apikeys/local/locallogs"
	"github.com/flowella/apikeys/shared/samtemplate"
)

// logWiring is the template's CloudWatch Logs subscription filters as the
// local stack runs them (local/locallogs): the access log and each
// function's log go, besides where they always go, to the log groups the
// template names for them, and the subscriptions deliver those groups'
// lines to their functions. Stack.Logs.Run delivers; without it nothing is
// kept.
type logWiring struct {
	subs       []samtemplate.LogSubscription
	subscribed map[string]bool // log groups with a subscription
}

func (s *Stack) readLogWiring() error {
	s.Logs = locallogs.New(s.cfg.Log)
	s.logs = logWiring{subscribed: map[string]bool{}}
	if s.cfg.LogSubscriptionsOff {
		return nil
	}
	subs, err := s.cfg.Template.LogSubscriptions()
	if err != nil {
		return err
	}
	s.logs.subs = subs
	for _, sub := range subs {
		s.logs.subscribed[sub.LogGroup] = true
	}
	return nil
}

// functionLog is the logger a function is built with: slog's default, as
// always, and, when the function's log group has a subscription, that
// group too, in the format Lambda's JSON logging gives it (lambdacontext).
func (s *Stack) functionLog(fn string) *slog.Logger {
	group := s.cfg.Template.FunctionLogGroup(fn)
	if !s.logs.subscribed[group] {
		return slog.Default()
	}
	toGroup := slog.NewJSONHandler(s.Logs.Group(group), &slog.HandlerOptions{ReplaceAttr: lambdacontext.ReplaceAttr})
	return slog.New(slog.NewMultiHandler(slog.Default().Handler(), toGroup))
}

// accessLog is where the gateway writes the API's access log: w, and the
// API's access log group when it has a subscription.
func (s *Stack) accessLog(w io.Writer, api string) io.Writer {
	group := s.cfg.Template.AccessLogGroup(api)
	if !s.logs.subscribed[group] {
		return w
	}
	if w == nil {
		return s.Logs.Group(group)
	}
	return io.MultiWriter(w, s.Logs.Group(group))
}

// subscribe connects each subscription filter to its function, once the
// functions are built.
func (s *Stack) subscribe() error {
	for _, sub := range s.logs.subs {
		if err := s.Logs.Subscribe(sub.Name, sub.LogGroup, sub.FilterPattern, s.Handlers[sub.Function]); err != nil {
			return err
		}
	}
	return nil
}
