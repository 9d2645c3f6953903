package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/storepulse/storepulse/ingest/auth"
	"github.com/storepulse/storepulse/ingest/calendarstore"
	"github.com/storepulse/storepulse/internal/calendar"
)

// maxCalendarBody caps calendar and target requests: they are small.
const maxCalendarBody = 4 << 20

// decodeOneOrMany decodes a JSON object or an array of them, strictly. The
// body's memory is admitted like every other body's.
func decodeOneOrMany[T any](s *Server, w http.ResponseWriter, r *http.Request, maxItems int) ([]T, *apiError) {
	body := http.MaxBytesReader(w, r.Body, maxCalendarBody)
	defer func() { _ = body.Close() }()
	raw, release, aerr := s.readAdmitted(r, body, maxCalendarBody, r.ContentLength)
	defer release()
	if aerr != nil {
		if aerr.kind == "body_too_large" && aerr.status == http.StatusRequestEntityTooLarge {
			aerr.msg = fmt.Sprintf("request body is over the limit of %d bytes", maxCalendarBody)
		}
		return nil, aerr
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, &apiError{status: http.StatusBadRequest, kind: "empty", msg: "empty body: send a JSON object or an array of them"}
	}
	if raw[0] != '[' {
		raw = append(append([]byte{'['}, raw...), ']')
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var out []T
	if err := dec.Decode(&out); err != nil {
		return nil, &apiError{status: http.StatusBadRequest, kind: "malformed", msg: "malformed JSON: " + err.Error()}
	}
	if len(out) == 0 {
		return nil, &apiError{status: http.StatusBadRequest, kind: "empty", msg: "no items in the body"}
	}
	if len(out) > maxItems {
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, kind: "too_many_items",
			msg: fmt.Sprintf("%d items in one request, at most %d; split it", len(out), maxItems)}
	}
	return out, nil
}

// duplicates reports items with the same key as an earlier item of the
// request: storing both would list the item twice (or keep either one).
func duplicates[T any](items []T, key func(*T) string, what string) *apiError {
	first := make(map[string]int, len(items))
	var errs []parseItem
	for i := range items {
		k := key(&items[i])
		if j, ok := first[k]; ok {
			errs = append(errs, parseItem{i, fmt.Sprintf("same %s as item %d; give each once", what, j)})
			continue
		}
		first[k] = i
	}
	return itemsError(errs)
}

// visibleCampaign returns c as a store-limited principal may see it: only
// campaigns for every store or for one of its stores, listing only its
// stores; ok is false for campaigns of other stores only.
func visibleCampaign(p *auth.Principal, c calendar.Campaign) (calendar.Campaign, bool) {
	if p.AllStores() || len(c.Stores) == 0 {
		return c, true
	}
	var mine []string
	for _, s := range c.Stores {
		if p.MayWrite(s) {
			mine = append(mine, s)
		}
	}
	if len(mine) == 0 {
		return calendar.Campaign{}, false
	}
	c.Stores = mine
	return c, true
}

func requireAllStores(p *auth.Principal) *apiError {
	if p.AllStores() {
		return nil
	}
	return &apiError{status: http.StatusForbidden, kind: "forbidden",
		msg: fmt.Sprintf("token %q is limited to some stores; the calendar and targets need a token for all stores", p.Name)}
}

func (s *Server) downstream(op string, err error) *apiError {
	s.log.Error(op+" failed", "err", err)
	return &apiError{status: http.StatusServiceUnavailable, kind: "influxdb_unavailable", retryAfter: 5,
		msg: fmt.Sprintf("%s: InfluxDB (downstream) failed: %s", op, redact(err.Error()))}
}

// getCampaigns lists the calendar; a store-limited token sees only the
// campaigns of its stores (and those for every store).
func (s *Server) getCampaigns(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	cs, err := s.calendar.Campaigns(r.Context())
	if err != nil {
		s.respond(w, "campaigns", Result{}, s.downstream("list campaigns", err))
		return
	}
	out := make([]calendar.Campaign, 0, len(cs))
	for _, c := range cs {
		if c, ok := visibleCampaign(p, c); ok {
			out = append(out, c)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) putCampaigns(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if aerr := requireAllStores(p); aerr != nil {
		s.respond(w, "campaigns", Result{}, aerr)
		return
	}
	cs, aerr := decodeOneOrMany[calendar.Campaign](s, w, r, calendar.MaxCampaignsPerPut)
	if aerr != nil {
		s.respond(w, "campaigns", Result{}, aerr)
		return
	}
	if aerr := validateAll(cs, func(c *calendar.Campaign) error { return c.Validate() }); aerr != nil {
		s.respond(w, "campaigns", Result{}, aerr)
		return
	}
	if aerr := duplicates(cs, func(c *calendar.Campaign) string { return c.ID }, "id"); aerr != nil {
		s.respond(w, "campaigns", Result{}, aerr)
		return
	}
	if err := s.calendar.PutCampaigns(r.Context(), cs); err != nil {
		s.respond(w, "campaigns", Result{}, s.downstream("store campaigns", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"stored": len(cs)})
}

func (s *Server) deleteCampaign(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if aerr := requireAllStores(p); aerr != nil {
		s.respond(w, "campaigns", Result{}, aerr)
		return
	}
	id := r.PathValue("id")
	probe := calendar.Campaign{ID: id}
	if err := probe.ValidateID(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "path: "+err.Error(), nil)
		return
	}
	found, err := s.calendar.DeleteCampaign(r.Context(), id)
	if err != nil {
		s.respond(w, "campaigns", Result{}, s.downstream("delete campaign", err))
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no campaign with id %q", id), nil)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// getTargets lists targets; a store-limited token sees only its stores'
// targets (not those of other stores, nor the business-wide "all").
func (s *Server) getTargets(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	q := r.URL.Query()
	f := calendarstore.TargetFilter{KPI: q.Get("kpi"), Store: q.Get("store"), Period: q.Get("period")}
	if f.Store != "" && !p.AllStores() && (f.Store == calendar.AllStores || !p.MayWrite(f.Store)) {
		writeError(w, http.StatusForbidden, "forbidden", fmt.Sprintf("token %q may not read targets of store %q", p.Name, f.Store), nil)
		return
	}
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if v := q.Get(name); v != "" {
			t, err := time.ParseInLocation("2006-01-02", v, s.opts.Location)
			if err == nil && (t.Before(calendar.MinTime().AddDate(0, 0, -1)) || t.After(calendar.MaxTime().AddDate(0, 0, 1))) {
				writeError(w, http.StatusBadRequest, "invalid_request", fmt.Sprintf("query parameter %s: must be a date from %s to %s, got %q",
					name, calendar.MinTime().Format("2006-01-02"), calendar.MaxTime().Format("2006-01-02"), v), nil)
				return
			}
			if err != nil {
				writeError(w, http.StatusBadRequest, "invalid_request", fmt.Sprintf("query parameter %s: must be a date YYYY-MM-DD, got %q", name, v), nil)
				return
			}
			*dst = t
		}
	}
	ts, err := s.calendar.Targets(r.Context(), f)
	if err != nil {
		s.respond(w, "targets", Result{}, s.downstream("list targets", err))
		return
	}
	out := make([]calendar.Target, 0, len(ts))
	for _, t := range ts {
		if p.AllStores() || t.Store != calendar.AllStores && p.MayWrite(t.Store) {
			out = append(out, t)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) putTargets(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	ts, aerr := decodeOneOrMany[calendar.Target](s, w, r, calendar.MaxTargetsPerPut)
	if aerr != nil {
		s.respond(w, "targets", Result{}, aerr)
		return
	}
	if aerr := validateAll(ts, func(t *calendar.Target) error {
		if err := t.Validate(s.opts.Location); err != nil {
			return err
		}
		if _, ok := s.kpis.Get(t.KPI); !ok {
			return fmt.Errorf("kpi: unknown KPI %q (see docs/kpis.md for the ids)", t.KPI)
		}
		return nil
	}); aerr != nil {
		s.respond(w, "targets", Result{}, aerr)
		return
	}
	if aerr := duplicates(ts, func(t *calendar.Target) string {
		return t.KPI + "\x00" + t.Store + "\x00" + t.Period + "\x00" + t.Start
	}, "kpi, store, period and start"); aerr != nil {
		s.respond(w, "targets", Result{}, aerr)
		return
	}
	for i := range ts {
		if ts[i].Store == calendar.AllStores && !p.AllStores() || ts[i].Store != calendar.AllStores && !p.MayWrite(ts[i].Store) {
			s.respond(w, "targets", Result{}, &apiError{status: http.StatusForbidden, kind: "forbidden",
				msg: fmt.Sprintf("item %d: token %q may not set targets for store %q", i, p.Name, ts[i].Store)})
			return
		}
	}
	if err := s.calendar.PutTargets(r.Context(), ts); err != nil {
		s.respond(w, "targets", Result{}, s.downstream("store targets", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"stored": len(ts)})
}

// deleteTarget removes the target named by the kpi, store, period and start
// query parameters.
func (s *Server) deleteTarget(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	q := r.URL.Query()
	t := calendar.Target{KPI: q.Get("kpi"), Store: q.Get("store"), Period: q.Get("period"), Start: q.Get("start")}
	if err := t.Validate(s.opts.Location); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "query parameters: "+err.Error(), nil)
		return
	}
	if t.Store == calendar.AllStores && !p.AllStores() || t.Store != calendar.AllStores && !p.MayWrite(t.Store) {
		writeError(w, http.StatusForbidden, "forbidden", fmt.Sprintf("token %q may not delete targets of store %q", p.Name, t.Store), nil)
		return
	}
	if err := s.calendar.DeleteTarget(r.Context(), t); err != nil {
		s.respond(w, "targets", Result{}, s.downstream("delete target", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func validateAll[T any](items []T, check func(*T) error) *apiError {
	var errs []parseItem
	for i := range items {
		if err := check(&items[i]); err != nil {
			errs = append(errs, parseItem{i, err.Error()})
		}
	}
	return itemsError(errs)
}

func itemsError(errs []parseItem) *apiError {
	if len(errs) == 0 {
		return nil
	}
	aerr := &apiError{status: http.StatusBadRequest, kind: "invalid_items", msg: fmt.Sprintf("%d invalid items, nothing stored", len(errs))}
	for _, e := range errs {
		aerr.items = append(aerr.items, itemError(e.index, e.reason))
	}
	aerr.msg += ": " + fmt.Sprintf("item %d: %s", errs[0].index, errs[0].reason)
	return aerr
}

type parseItem struct {
	index  int
	reason string
}
