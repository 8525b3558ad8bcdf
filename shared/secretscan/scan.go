package secretscan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/flowella/apikeys/shared/apikey"
	"github.com/flowella/apikeys/shared/keystore"
	"github.com/flowella/apikeys/shared/textclip"
)

// Keys is what the scanner needs of the key store: the authorizer's lookup
// by hash, and the exposure write (with or without the revoke).
type Keys interface {
	LookupByHash(ctx context.Context, hash string) (keystore.Key, error)
	ExposeAll(ctx context.Context, keys []keystore.Key, revoke bool, changes []keystore.Change) []error
}

// Orgs reads an organisation's record, for its on_exposure setting.
type Orgs interface {
	GetOrg(ctx context.Context, id string) (keystore.Org, error)
}

// Actor is who every change a report makes is attributed to.
const Actor = "github_secret_scanning"

// DefaultConcurrency is how many lookups, and how many organisations'
// writes, are under way at once.
const DefaultConcurrency = 16

// exposeAttempts bounds how often the write follows a key that another
// request keeps changing under it (a PATCH, a roll), as a revoke without
// If-Match does.
const exposeAttempts = 5

// Outcomes of a true positive, for the log.
const (
	outcomeRevoked   = "revoked"   // revoked now (on_exposure revoke)
	outcomeFlagged   = "flagged"   // kept active, exposed_at set (on_exposure notify)
	outcomeUnchanged = "unchanged" // revoked or expired already, or flagged for this URL already
)

// Scanner decides what a report does to the keys it names.
type Scanner struct {
	Keys        Keys
	Orgs        Orgs
	Env         apikey.Env
	Concurrency int // DefaultConcurrency when 0
	Log         *slog.Logger
	Now         func() time.Time
}

// Request is what the report's HTTP request says of who sent it, for the
// changes' actor and trace (the actor's user id is always Actor).
type Request struct {
	IP, UserAgent                       string
	RequestID, XRayTraceID, TraceParent string
}

// found is one Flowella key of the report, as looked up.
type found struct {
	hash    string
	key     keystore.Key // zero until found
	match   Match        // the first match that named it
	outcome string
}

// Scan handles every match of a report and returns GitHub's feedback, one
// entry per match in order. A token that is not a well-formed key of this
// deployment's environment is a false positive without any I/O; the rest
// are looked up by hash, concurrently; every key found is a true positive,
// and each active one is revoked or flagged, per its organisation's
// on_exposure: the keys of one organisation together (handleOrg), and
// organisations concurrently. A token named twice is handled once.
//
// A storage error fails the whole report, so that GitHub sends it again;
// what was done already is not done twice.
func (s *Scanner) Scan(ctx context.Context, matches []Match, req Request) ([]Feedback, error) {
	now := s.now() // the report's one clock reading: every change it makes is of this time
	feedback := make([]Feedback, len(matches))
	var candidates []*found // well-formed keys, each once
	byHash := map[string]*found{}
	for i, m := range matches {
		hash := apikey.Hash(m.Token)
		feedback[i] = Feedback{TokenHash: hash, TokenType: m.Type, Label: FalsePositive}
		if _, seen := byHash[hash]; seen {
			continue
		}
		if _, err := apikey.Parse(m.Token, s.Env); err != nil {
			byHash[hash] = nil
			continue
		}
		f := &found{hash: hash, match: m}
		byHash[hash] = f
		candidates = append(candidates, f)
	}

	// Lookups: the authorizer's strongly consistent read, by hash. Each
	// goroutine writes only its own candidate.
	err := s.each(ctx, len(candidates), func(ctx context.Context, i int) error {
		k, err := s.Keys.LookupByHash(ctx, candidates[i].hash)
		if errors.Is(err, keystore.ErrNotFound) {
			return nil
		}
		candidates[i].key = k
		return err
	})
	if err != nil {
		return nil, err
	}

	// Writes: one organisation's keys in turn, organisations side by side.
	byOrg := map[string][]*found{}
	var orgs []string
	for _, f := range candidates {
		if f.key.ID == "" {
			continue // a well-formed key that this deployment never issued
		}
		if byOrg[f.key.OrgID] == nil {
			orgs = append(orgs, f.key.OrgID)
		}
		byOrg[f.key.OrgID] = append(byOrg[f.key.OrgID], f)
	}
	err = s.each(ctx, len(orgs), func(ctx context.Context, i int) error {
		return s.handleOrg(ctx, orgs[i], byOrg[orgs[i]], req, now)
	})
	if err != nil {
		return nil, err
	}

	for i := range feedback {
		if f := byHash[feedback[i].TokenHash]; f != nil && f.key.ID != "" {
			feedback[i].Label = TruePositive
		}
	}
	for _, org := range orgs {
		for _, f := range byOrg[org] {
			s.log().InfoContext(ctx, "secret scanning: key found in public", "request_id", req.RequestID,
				"org_id", f.key.OrgID, "key_id", f.key.ID, "key_prefix", f.key.Prefix, "outcome", f.outcome,
				"url", f.match.URL, "source", f.match.Source)
		}
	}
	return feedback, nil
}

// handleOrg revokes or flags the organisation's keys of the report,
// ExposeAll's groups at a time: they share the organisation's item, which
// each revoke's transaction updates, so they are written together rather
// than side by side. A key that needs nothing is not written: one revoked
// or expired already, or one flagged already for the same URL (so the same
// report twice changes nothing). A key changed meanwhile (a PATCH, a roll)
// is read again and handled as it now is.
func (s *Scanner) handleOrg(ctx context.Context, orgID string, keys []*found, req Request, now time.Time) error {
	live := false
	for _, f := range keys {
		f.outcome = outcomeUnchanged
		live = live || f.key.Live(now)
	}
	if !live {
		return nil // revoked or expired already: nothing to decide
	}
	revoke := true
	org, err := s.Orgs.GetOrg(ctx, orgID)
	switch {
	case err == nil:
		revoke = org.ExposurePolicy() == keystore.ExposureRevoke
	case !errors.Is(err, keystore.ErrOrgNotFound):
		return err
	}
	todo := slices.DeleteFunc(slices.Clone(keys), func(f *found) bool { return !needsWrite(f, revoke, now) })
	for attempt := 1; len(todo) > 0; attempt++ {
		ks, changes := make([]keystore.Key, len(todo)), make([]keystore.Change, len(todo))
		for j, f := range todo {
			ks[j], changes[j] = f.key, s.change(f.match, req, now, f.key)
		}
		errs := s.Keys.ExposeAll(ctx, ks, revoke, changes)
		var again []*found
		for j, f := range todo {
			switch err := errs[j]; {
			case err == nil && revoke:
				f.outcome = outcomeRevoked
			case err == nil:
				f.outcome = outcomeFlagged
			case errors.Is(err, keystore.ErrAlreadyRevoked), errors.Is(err, keystore.ErrRevoked),
				errors.Is(err, keystore.ErrExpired), errors.Is(err, keystore.ErrNotFound):
			case errors.Is(err, keystore.ErrChanged) && attempt < exposeAttempts:
				k, err := s.Keys.LookupByHash(ctx, f.hash)
				if errors.Is(err, keystore.ErrNotFound) {
					continue
				}
				if err != nil {
					return fmt.Errorf("read key %s again: %w", f.key.ID, err)
				}
				if f.key = k; needsWrite(f, revoke, now) {
					again = append(again, f)
				}
			default:
				return err
			}
		}
		todo = again
	}
	return nil
}

// needsWrite reports whether f's key, as read, is to be revoked (revoke)
// or flagged: it is live and, to be flagged, not flagged for this URL yet.
func needsWrite(f *found, revoke bool, now time.Time) bool {
	if !f.key.Live(now) {
		return false
	}
	return revoke || f.key.ExposedAt.IsZero() || f.key.ExposureURL != f.match.URL
}

// change is what an exposure write records on the key (last_change), for
// the audit record: the actor, GitHub's request, and where the key was found.
// Its time is of.ChangeAt(now): never before the key's last change.
func (s *Scanner) change(m Match, req Request, now time.Time, of keystore.Key) keystore.Change {
	return keystore.Change{
		Op:             keystore.OpExpose,
		At:             of.ChangeAt(now),
		Actor:          keystore.Actor{UserID: Actor, IP: req.IP, UserAgent: textclip.Clip(req.UserAgent, 512)},
		Trace:          keystore.Trace{RequestID: req.RequestID, XRayTraceID: textclip.Clip(req.XRayTraceID, 256), TraceParent: textclip.Clip(req.TraceParent, 256)},
		ExposureURL:    textclip.Clip(m.URL, 2048),
		ExposureSource: textclip.Clip(m.Source, 64),
	}
}

// each runs fn for 0..n-1, at most Concurrency at a time, and returns the
// first error; after one, the rest are not started and ctx is cancelled.
func (s *Scanner) each(ctx context.Context, n int, fn func(context.Context, int) error) error {
	limit := s.Concurrency
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

func (s *Scanner) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Scanner) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
