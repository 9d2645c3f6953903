// Package auth checks the bearer tokens of ingest requests. Tokens are
// configured only as SHA-256 hashes, compared in constant time, and never
// logged: a Principal carries the token's name, not the token.
package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/storepulse/storepulse/ingest/config"
)

// ErrMissing means the request carried no credentials (401).
var ErrMissing = errors.New("no credentials: send Authorization: Bearer <token>")

// ErrInvalid means the credentials matched no configured token (401).
var ErrInvalid = errors.New("invalid token")

// Principal is an authenticated caller.
type Principal struct {
	Name   string
	stores map[string]struct{} // nil: every store
	admin  bool
}

// Admin reports whether the principal may import history (history=true).
func (p *Principal) Admin() bool { return p.admin }

// AllStores reports whether the principal may write to any store.
func (p *Principal) AllStores() bool { return p.stores == nil }

// MayWrite reports whether the principal may write events of store.
func (p *Principal) MayWrite(store string) bool {
	if p.stores == nil {
		return true
	}
	_, ok := p.stores[store]
	return ok
}

type entry struct {
	hash      [sha256.Size]byte
	principal Principal
}

// Authenticator holds the configured token hashes.
type Authenticator struct {
	entries []entry
}

// New builds an Authenticator from configured tokens (already validated by
// package config).
func New(tokens []config.Token) (*Authenticator, error) {
	a := &Authenticator{}
	for _, t := range tokens {
		raw, err := hex.DecodeString(t.SHA256)
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("auth: token %q: sha256 must be 64 hex digits", t.Name)
		}
		e := entry{principal: Principal{Name: t.Name, admin: t.Admin}}
		copy(e.hash[:], raw)
		if len(t.Stores) > 0 {
			e.principal.stores = make(map[string]struct{}, len(t.Stores))
			for _, s := range t.Stores {
				e.principal.stores[s] = struct{}{}
			}
		}
		a.entries = append(a.entries, e)
	}
	return a, nil
}

// Hash returns the hex SHA-256 of a token, the form it is configured in.
func Hash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Authenticate finds the principal of r's credentials. It accepts
// "Authorization: Bearer <t>" and "Authorization: Token <t>" (InfluxDB v2
// clients), HTTP basic auth with the token as password and the v1 query
// parameter p=<t> (InfluxDB v1 clients such as Telegraf's influxdb output).
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, error) {
	token := credentials(r)
	if token == "" {
		return nil, ErrMissing
	}
	sum := sha256.Sum256([]byte(token))
	var found *Principal
	// Compare against every entry without early exit so timing says nothing
	// about which or whether a token matched.
	for i := range a.entries {
		if subtle.ConstantTimeCompare(sum[:], a.entries[i].hash[:]) == 1 && found == nil {
			found = &a.entries[i].principal
		}
	}
	if found == nil {
		return nil, ErrInvalid
	}
	return found, nil
}

func credentials(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		switch strings.ToLower(scheme) {
		case "bearer", "token":
			return strings.TrimSpace(rest)
		case "basic":
			if _, pass, ok := r.BasicAuth(); ok {
				return pass
			}
		}
		return ""
	}
	return r.URL.Query().Get("p")
}
