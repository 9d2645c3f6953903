package parse

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // tz= must work in minimal containers without /usr/share/zoneinfo
)

// Query parameters shared by the JSON and CSV write endpoints.
const (
	ParamTZ      = "tz"      // zone of timestamps without offset
	ParamHistory = "history" // history=true: a history import (admin tokens)
)

// WriteOptions are the query parameters of POST /v1/events and /v1/metrics
// (the CSV import reads the same two in ParseCSVMapping).
type WriteOptions struct {
	Location *time.Location // tz=<IANA zone>, or nil
	History  bool           // history=true
}

// Apply sets o's options on the limits of one request.
func (o WriteOptions) Apply(lim Limits) Limits {
	lim.Location = o.Location
	lim.History = o.History
	return lim
}

// ParseWriteOptions reads tz and history from the query of a JSON write.
// Other parameters are left alone (credentials, a client's own markers),
// as before these existed.
func ParseWriteOptions(q url.Values) (WriteOptions, error) {
	var o WriteOptions
	e := &Error{Kind: KindInvalidRequest, unit: "parameter", msg: "invalid query parameters"}
	for _, k := range []string{ParamHistory, ParamTZ} {
		vals, ok := q[k]
		if !ok {
			continue
		}
		if len(vals) != 1 {
			e.Items = append(e.Items, ItemError{Field: k, Reason: fmt.Sprintf("given %d times; give it once", len(vals))})
			continue
		}
		var reason string
		if k == ParamTZ {
			o.Location, reason = LoadZone(vals[0])
		} else {
			o.History, reason = parseHistory(vals[0])
		}
		if reason != "" {
			e.Items = append(e.Items, ItemError{Field: k, Reason: reason})
		}
	}
	if len(e.Items) > 0 {
		return WriteOptions{}, e
	}
	return o, nil
}

// LoadZone loads the IANA zone of a tz= parameter; the reason says why not.
// "Local" (the server's zone) and "" are refused: a client's times are in
// its stores' zone, not in the server's.
func LoadZone(name string) (*time.Location, string) {
	if name == "" || name == "Local" || len(name) > 64 {
		return nil, "unknown time zone " + quote(name) + " (want an IANA name such as Asia/Shanghai or America/Sao_Paulo)"
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, "unknown time zone " + quote(name) + " (want an IANA name such as Asia/Shanghai or America/Sao_Paulo)"
	}
	return loc, ""
}

func parseHistory(v string) (bool, string) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, "must be true or false, got " + quote(v)
	}
	return b, ""
}

// sortedKeys is q's keys in order, for deterministic errors.
func sortedKeys(q url.Values) []string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare)
	return keys
}
