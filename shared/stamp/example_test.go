package stamp_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/flowella/apikeys/shared/stamp"
)

func Example() {
	created := stamp.Of(time.Date(2026, 11, 30, 5, 4, 3, 210_987_654, time.FixedZone("CET", 3600)))
	expires := created.Add(90 * 24 * time.Hour)
	fmt.Println(created, expires, created < expires)

	old, err := stamp.Parse("2026-11-30T04:04:03Z") // a whole-second time reads too
	fmt.Println(old, err, old < created)

	edited, err := stamp.Parse("2026-11-30T04:04:03+00:00") // a hand edit: the same instant
	fmt.Println(edited, err)

	_, err = stamp.Parse("2026-11-30T05:04:03+01:00") // its text would sort as another instant
	fmt.Println(err)

	b, _ := json.Marshal(struct {
		CreatedAt  stamp.Time `json:"created_at"`
		LastUsedAt stamp.Time `json:"last_used_at"`
	}{CreatedAt: created})
	fmt.Println(string(b))
	// Output:
	// 2026-11-30T04:04:03.210Z 2027-02-28T04:04:03.210Z true
	// 2026-11-30T04:04:03.000Z <nil> true
	// 2026-11-30T04:04:03.000Z <nil>
	// stored time "2026-11-30T05:04:03+01:00": not in UTC (Z or +00:00), so its text would not sort with the others
	// {"created_at":"2026-11-30T04:04:03.210Z","last_used_at":null}
}
