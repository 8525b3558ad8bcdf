// Package dynamofault injects into a DynamoDB client the faults that real
// DynamoDB produces and DynamoDB Local does not: transaction conflicts,
// throttling, and global secondary indexes that lag behind their table.
//
// It is part of the local emulator (the local stack and its tests); no
// function imports it. Faults come as the SDK would surface DynamoDB's own
// answers, so the code under test handles them as it would in AWS: the
// SDK's retryer retries throttling, the code must retry conflicts itself.
package dynamofault

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// EnvVar names the local stack's fault configuration, for example
//
//	LOCAL_DYNAMODB_FAULTS="conflicts=0.2,throttle=0.05,gsi_lag=2s" make run
const EnvVar = "LOCAL_DYNAMODB_FAULTS"

// Config says which faults to inject, and how often.
type Config struct {
	// Conflicts is the share of writes that meet a concurrent transaction:
	// TransactWriteItems is cancelled with TransactionCanceledException (one
	// item's reason TransactionConflict), PutItem, UpdateItem and DeleteItem
	// fail with TransactionConflictException. Nothing is written.
	Conflicts float64
	// Throttle is the share of request attempts refused with
	// ProvisionedThroughputExceededException or ThrottlingException.
	Throttle float64
	// GSILag is how long a written item stays out of the answers of Query
	// and Scan on global secondary indexes: the index has not caught up.
	// (DynamoDB would show the item's previous version, if any, meanwhile;
	// leaving it out is the harder case for code that reads its own
	// writes through an index.)
	GSILag time.Duration
	// Seed makes the random choices repeatable; 0 seeds from the clock.
	Seed uint64
}

// Parse reads a configuration such as "conflicts=0.2,throttle=0.05,gsi_lag=2s,seed=7".
// Shares are from 0 to 1; the lag is a Go duration. An empty spec is no faults.
func Parse(spec string) (Config, error) {
	var c Config
	for _, field := range strings.Split(spec, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		name, value, ok := strings.Cut(field, "=")
		if !ok {
			return Config{}, fmt.Errorf("%s: %q is not name=value", EnvVar, field)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		var err error
		switch name {
		case "conflicts":
			c.Conflicts, err = share(value)
		case "throttle":
			c.Throttle, err = share(value)
		case "gsi_lag":
			c.GSILag, err = time.ParseDuration(value)
			if err == nil && c.GSILag < 0 {
				err = fmt.Errorf("negative")
			}
		case "seed":
			c.Seed, err = strconv.ParseUint(value, 10, 64)
		default:
			return Config{}, fmt.Errorf("%s: unknown fault %q (known: conflicts, throttle, gsi_lag, seed)", EnvVar, name)
		}
		if err != nil {
			return Config{}, fmt.Errorf("%s: %s=%q: %v", EnvVar, name, value, err)
		}
	}
	return c, nil
}

func share(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1 {
		return 0, fmt.Errorf("want a share from 0 to 1")
	}
	return f, nil
}

// String is the configuration as Parse reads it.
func (c Config) String() string {
	var parts []string
	if c.Conflicts > 0 {
		parts = append(parts, "conflicts="+strconv.FormatFloat(c.Conflicts, 'g', -1, 64))
	}
	if c.Throttle > 0 {
		parts = append(parts, "throttle="+strconv.FormatFloat(c.Throttle, 'g', -1, 64))
	}
	if c.GSILag > 0 {
		parts = append(parts, "gsi_lag="+c.GSILag.String())
	}
	if c.Seed != 0 {
		parts = append(parts, "seed="+strconv.FormatUint(c.Seed, 10))
	}
	return strings.Join(parts, ",")
}

// FromEnv returns the injector EnvVar configures, or nil when it is unset or
// empty.
func FromEnv(getenv func(string) string) (*Injector, error) {
	spec := getenv(EnvVar)
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	cfg, err := Parse(spec)
	if err != nil {
		return nil, err
	}
	return New(cfg), nil
}

// Stats count the faults injected so far.
type Stats struct {
	Conflicts int // writes failed with a transaction conflict
	Throttles int // request attempts throttled
	Hidden    int // items left out of index queries by the lag
}

// Injector injects faults into every client built with its Option. One
// injector shared by several clients sees all their writes, as the index
// lag needs: a key created through one function's client is missing from
// another's index query.
type Injector struct {
	mu            sync.Mutex
	cfg           Config
	rnd           *rand.Rand
	nextConflicts int
	nextThrottles int
	keys          map[string][]string  // table → its key attributes
	written       map[string]time.Time // table and item key → when last written
	stats         Stats
	now           func() time.Time
}

// New returns an injector with cfg.
func New(cfg Config) *Injector {
	i := &Injector{keys: map[string][]string{}, written: map[string]time.Time{}, now: time.Now}
	i.Set(cfg)
	return i
}

// Set replaces the configuration; queued ConflictNext and ThrottleNext
// faults are dropped.
func (i *Injector) Set(cfg Config) {
	i.mu.Lock()
	defer i.mu.Unlock()
	seed := cfg.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	i.cfg, i.rnd = cfg, rand.New(rand.NewPCG(seed, seed>>1|1))
	i.nextConflicts, i.nextThrottles = 0, 0
}

// Config returns the current configuration.
func (i *Injector) Config() Config {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.cfg
}

// ConflictNext makes the next n writes (TransactWriteItems, PutItem,
// UpdateItem, DeleteItem) fail with a transaction conflict, whatever the
// configured share.
func (i *Injector) ConflictNext(n int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.nextConflicts = n
}

// ThrottleNext makes the next n request attempts fail with throttling.
func (i *Injector) ThrottleNext(n int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.nextThrottles = n
}

// KeySchema tells the injector a table's key attributes (partition key, and
// sort key if any), which the index lag needs to tell items apart.
func (i *Injector) KeySchema(table string, attrs ...string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys[table] = slices.Clone(attrs)
}

// Stats returns the faults injected so far.
func (i *Injector) Stats() Stats {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.stats
}

// conflict decides whether this write meets a concurrent transaction.
func (i *Injector) conflict() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	hit := false
	if i.nextConflicts > 0 {
		i.nextConflicts--
		hit = true
	} else if i.cfg.Conflicts > 0 && i.rnd.Float64() < i.cfg.Conflicts {
		hit = true
	}
	if hit {
		i.stats.Conflicts++
	}
	return hit
}

// throttle decides whether this attempt is throttled.
func (i *Injector) throttle() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	hit := false
	if i.nextThrottles > 0 {
		i.nextThrottles--
		hit = true
	} else if i.cfg.Throttle > 0 && i.rnd.Float64() < i.cfg.Throttle {
		hit = true
	}
	if hit {
		i.stats.Throttles++
	}
	return hit
}

// pick returns a random number in [0, n).
func (i *Injector) pick(n int) int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.rnd.IntN(n)
}
