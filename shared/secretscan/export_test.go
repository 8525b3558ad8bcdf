package secretscan

import (
	"net/http"
	"time"
)

// WithClock makes p read the time from now (tests of the refresh schedule).
func (p *PublicKeys) WithClock(now func() time.Time) *PublicKeys {
	p.now = now
	return p
}

// WithClient makes p fetch with c (a shorter timeout than FetchTimeout).
func (p *PublicKeys) WithClient(c *http.Client) *PublicKeys {
	p.client = c
	return p
}
