package scalesim

import "testing"

func TestCommandCalls(t *testing.T) {
	for stats, want := range map[string]int64{
		"calls=3,usec=12,usec_per_call=4.00,rejected_calls=0,failed_calls=0": 3,
		"usec=12,calls=41": 41,
		"usec=12":          0,
		"calls=x,usec=12":  0,
		"":                 0,
	} {
		if got := commandCalls(stats); got != want {
			t.Errorf("commandCalls(%q) = %d, want %d", stats, got, want)
		}
	}
}
