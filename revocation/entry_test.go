package revocation_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jwt-authz/jwt-authz/revocation"
)

func TestEntryValidate(t *testing.T) {
	ok := revocation.Entry{Kind: revocation.KindJTI, Value: "j", ExpiresAt: 10}
	tests := map[string]struct {
		e     revocation.Entry
		valid bool
	}{
		"jti":                {ok, true},
		"sid":                {revocation.Entry{Kind: revocation.KindSID, Value: "s", ExpiresAt: 10}, true},
		"sub with cut-off":   {revocation.Entry{Kind: revocation.KindSub, Value: "u", Before: 5, ExpiresAt: 10}, true},
		"longest value":      {revocation.Entry{Kind: revocation.KindJTI, Value: strings.Repeat("a", revocation.MaxValueBytes), ExpiresAt: 10}, true},
		"unknown kind":       {revocation.Entry{Kind: "iss", Value: "x", ExpiresAt: 10}, false},
		"empty kind":         {revocation.Entry{Value: "x", ExpiresAt: 10}, false},
		"empty value":        {revocation.Entry{Kind: revocation.KindJTI, ExpiresAt: 10}, false},
		"value too long":     {revocation.Entry{Kind: revocation.KindJTI, Value: strings.Repeat("a", revocation.MaxValueBytes+1), ExpiresAt: 10}, false},
		"no expiry":          {revocation.Entry{Kind: revocation.KindJTI, Value: "j"}, false},
		"negative expiry":    {revocation.Entry{Kind: revocation.KindJTI, Value: "j", ExpiresAt: -1}, false},
		"negative created":   {revocation.Entry{Kind: revocation.KindJTI, Value: "j", ExpiresAt: 10, CreatedAt: -1}, false},
		"sub without cutoff": {revocation.Entry{Kind: revocation.KindSub, Value: "u", ExpiresAt: 10}, false},
		"jti with cut-off":   {revocation.Entry{Kind: revocation.KindJTI, Value: "j", Before: 5, ExpiresAt: 10}, false},
		"scoped sid":         {revocation.Entry{Kind: revocation.KindSID, Provider: "idp-a", Value: "s", ExpiresAt: 10}, true},
		"scoped sub":         {revocation.Entry{Kind: revocation.KindSub, Provider: "self", Value: "u", Before: 5, ExpiresAt: 10}, true},
		"scoped jti":         {revocation.Entry{Kind: revocation.KindJTI, Provider: "idp-a", Value: "j", ExpiresAt: 10}, false},
		"bad scope":          {revocation.Entry{Kind: revocation.KindSID, Provider: "IdP A", Value: "s", ExpiresAt: 10}, false},
		"scope with colon":   {revocation.Entry{Kind: revocation.KindSID, Provider: "a:b", Value: "s", ExpiresAt: 10}, false},
		"scope too long":     {revocation.Entry{Kind: revocation.KindSID, Provider: strings.Repeat("a", revocation.MaxProviderBytes+1), Value: "s", ExpiresAt: 10}, false},
		"longest scope":      {revocation.Entry{Kind: revocation.KindSID, Provider: strings.Repeat("a", revocation.MaxProviderBytes), Value: "s", ExpiresAt: 10}, true},
		"provider":           {revocation.Entry{Kind: revocation.KindProvider, Value: "idp-a", Before: 5, ExpiresAt: 10}, true},
		"provider no cutoff": {revocation.Entry{Kind: revocation.KindProvider, Value: "idp-a", ExpiresAt: 10}, false},
		"provider bad name":  {revocation.Entry{Kind: revocation.KindProvider, Value: "idp a", Before: 5, ExpiresAt: 10}, false},
		"provider scoped":    {revocation.Entry{Kind: revocation.KindProvider, Provider: "idp-b", Value: "idp-a", Before: 5, ExpiresAt: 10}, false},
		"sid set":            {revocation.Entry{Kind: revocation.KindSIDSet, Value: "q83vEjRWeJCrze8SNFZ4kA", Set: revocation.NewSIDSet([]string{"s"}), ExpiresAt: 10}, true},
		"scoped sid set":     {revocation.Entry{Kind: revocation.KindSIDSet, Provider: "idp-a", Value: "x", Set: revocation.NewSIDSet([]string{"s"}), ExpiresAt: 10}, true},
		"sid set no content": {revocation.Entry{Kind: revocation.KindSIDSet, Value: "x", ExpiresAt: 10}, false},
		"sid set empty":      {revocation.Entry{Kind: revocation.KindSIDSet, Value: "x", Set: revocation.NewSIDSet(nil), ExpiresAt: 10}, false},
		"sid set cut-off":    {revocation.Entry{Kind: revocation.KindSIDSet, Value: "x", Set: revocation.NewSIDSet([]string{"s"}), Before: 5, ExpiresAt: 10}, false},
		"sid with a set":     {revocation.Entry{Kind: revocation.KindSID, Value: "x", Set: revocation.NewSIDSet([]string{"s"}), ExpiresAt: 10}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.e.Validate()
			if (err == nil) != tc.valid {
				t.Fatalf("Validate(%+v) = %v, want valid %v", tc.e, err, tc.valid)
			}
			if err != nil && !errors.Is(err, revocation.ErrInvalidEntry) {
				t.Fatalf("Validate error %v does not wrap ErrInvalidEntry", err)
			}
		})
	}
}

func TestEntryMerge(t *testing.T) {
	base := revocation.Entry{Kind: revocation.KindSub, Value: "u", Before: 100, ExpiresAt: 1000, CreatedAt: 1}
	tests := map[string]struct {
		other   revocation.Entry
		want    revocation.Entry
		changed bool
	}{
		"identical":        {base, base, false},
		"older everything": {revocation.Entry{Before: 50, ExpiresAt: 500, CreatedAt: 2}, base, false},
		"later expiry":     {revocation.Entry{Before: 50, ExpiresAt: 2000, CreatedAt: 2}, revocation.Entry{Kind: revocation.KindSub, Value: "u", Before: 100, ExpiresAt: 2000, CreatedAt: 2}, true},
		"later cut-off":    {revocation.Entry{Before: 150, ExpiresAt: 500, CreatedAt: 3}, revocation.Entry{Kind: revocation.KindSub, Value: "u", Before: 150, ExpiresAt: 1000, CreatedAt: 3}, true},
		"both later":       {revocation.Entry{Before: 150, ExpiresAt: 2000, CreatedAt: 4}, revocation.Entry{Kind: revocation.KindSub, Value: "u", Before: 150, ExpiresAt: 2000, CreatedAt: 4}, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, changed := base.Merge(tc.other)
			if got != tc.want || changed != tc.changed {
				t.Fatalf("Merge = %+v, %v; want %+v, %v", got, changed, tc.want, tc.changed)
			}
		})
	}
}

func TestIDHash(t *testing.T) {
	a, b := revocation.IDHash("jti-1"), revocation.IDHash("jti-2")
	if len(a) != 16 || a == b || a != revocation.IDHash("jti-1") {
		t.Fatalf("IDHash gave %q and %q; want 16 stable, distinct hex digits", a, b)
	}
	if strings.Contains(a, "jti") {
		t.Fatalf("IDHash %q contains the identifier", a)
	}
}
