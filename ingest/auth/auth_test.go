package auth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/auth"
	"github.com/storepulse/storepulse/ingest/config"
)

func TestAuthenticate(t *testing.T) {
	a, err := auth.New([]config.Token{
		{Name: "admin", SHA256: auth.Hash("s3cret-admin")},
		{Name: "shop", SHA256: auth.Hash("s3cret-shop"), Stores: []string{"s1", "s2"}},
	})
	require.NoError(t, err)

	cases := []struct {
		name    string
		prep    func(r *http.Request)
		want    string
		wantErr error
	}{
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret-admin") }, "admin", nil},
		{"influx v2 token", func(r *http.Request) { r.Header.Set("Authorization", "Token s3cret-shop") }, "shop", nil},
		{"basic auth password", func(r *http.Request) { r.SetBasicAuth("telegraf", "s3cret-shop") }, "shop", nil},
		{"v1 query param", func(r *http.Request) { r.URL.RawQuery = "u=x&p=s3cret-admin" }, "admin", nil},
		{"missing", func(r *http.Request) {}, "", auth.ErrMissing},
		{"wrong", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, "", auth.ErrInvalid},
		{"hash is not the token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+auth.Hash("s3cret-admin")) }, "", auth.ErrInvalid},
		{"unknown scheme", func(r *http.Request) { r.Header.Set("Authorization", "Digest s3cret-admin") }, "", auth.ErrMissing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/events", nil)
			tc.prep(r)
			p, err := a.Authenticate(r)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, p.Name)
		})
	}
}

func TestStoreLimits(t *testing.T) {
	a, err := auth.New([]config.Token{
		{Name: "admin", SHA256: auth.Hash("a")},
		{Name: "shop", SHA256: auth.Hash("b"), Stores: []string{"s1"}},
	})
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("Authorization", "Bearer b")
	p, err := a.Authenticate(r)
	require.NoError(t, err)
	require.False(t, p.AllStores())
	require.True(t, p.MayWrite("s1"))
	require.False(t, p.MayWrite("s2"))

	require.False(t, p.Admin())

	r.Header.Set("Authorization", "Bearer a")
	p, err = a.Authenticate(r)
	require.NoError(t, err)
	require.True(t, p.AllStores())
	require.True(t, p.MayWrite("anything"))
	require.False(t, p.Admin())
}

// TestAdmin: only tokens configured admin may import history.
func TestAdmin(t *testing.T) {
	a, err := auth.New([]config.Token{
		{Name: "feed", SHA256: auth.Hash("a")},
		{Name: "ops", SHA256: auth.Hash("b"), Admin: true},
		{Name: "shop-ops", SHA256: auth.Hash("c"), Admin: true, Stores: []string{"s1"}},
	})
	require.NoError(t, err)
	for tok, want := range map[string]bool{"a": false, "b": true, "c": true} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		p, err := a.Authenticate(r)
		require.NoError(t, err)
		require.Equal(t, want, p.Admin(), p.Name)
	}
}
