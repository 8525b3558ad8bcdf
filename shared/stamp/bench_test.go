package stamp

import "testing"

// Every key the authorizer reads parses its times; every item written or
// shown writes them.
func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := Parse("2026-11-30T04:05:06.789Z"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkString(b *testing.B) {
	t := Max
	for b.Loop() {
		_ = t.String()
	}
}
