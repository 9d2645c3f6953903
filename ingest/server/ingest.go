package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/storepulse/storepulse/ingest/auth"
	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/ingest/parse"
	"github.com/storepulse/storepulse/internal/schema"
)

type parser func(r io.Reader) (event.Batch, error)

// ingest is the receive half of the pipeline for every write endpoint:
// cap+decompress the body, validate all of it, check the caller may write
// every store in it, then make it durable. Nothing is stored unless all of
// the batch parse returns is valid (for line protocol: the valid lines).
func (s *Server) ingest(w http.ResponseWriter, r *http.Request, p *auth.Principal, endpoint string, parse parser) (Result, *apiError) {
	body, release, aerr := s.body(w, r)
	defer release()
	if aerr != nil {
		return Result{}, aerr
	}
	batch, err := parse(bytes.NewBuffer(body)) // parse takes the bytes without copying
	if err != nil {
		return Result{}, s.parseFailure(err)
	}
	if aerr := authorizeStores(p, &batch); aerr != nil {
		return Result{}, aerr
	}
	if len(batch.Events)+len(batch.Points) == 0 {
		return Result{}, nil // only line protocol may be empty (InfluxDB answers 204)
	}
	res, err := s.pipeline.Accept(r.Context(), &batch)
	switch {
	case errors.Is(err, ErrSpoolFull):
		secs := int(s.opts.RetryAfter.Seconds())
		return Result{}, &apiError{status: http.StatusServiceUnavailable, kind: "spool_full", retryAfter: secs,
			msg: fmt.Sprintf("the on-disk spool is at its budget while InfluxDB catches up; nothing was stored, retry after %ds", secs)}
	case err != nil:
		s.log.Error("accept failed", "endpoint", endpoint, "principal", p.Name, "err", err)
		return Result{}, &apiError{status: http.StatusServiceUnavailable, kind: "unavailable", retryAfter: 1,
			msg: "StorePulse could not make the request durable; nothing was stored, retry: " + redact(err.Error())}
	}
	s.metrics.accepted(endpoint, res)
	return res, nil
}

// authorizeStores rejects a batch that touches a store the token may not
// write (403), naming the first such item.
func authorizeStores(p *auth.Principal, b *event.Batch) *apiError {
	if p.AllStores() {
		return nil
	}
	deny := func(i int, store string) *apiError {
		return &apiError{status: http.StatusForbidden, kind: "forbidden",
			msg:   fmt.Sprintf("token %q may not write store %q", p.Name, store),
			items: []parse.ItemError{{Index: i, Field: "store", Reason: fmt.Sprintf("token may not write store %q", store)}}}
	}
	for i := range b.Events {
		if !p.MayWrite(b.Events[i].Store) {
			return deny(i, b.Events[i].Store)
		}
	}
	for i := range b.Points {
		store := ""
		for _, t := range b.Points[i].Tags {
			if t.Key == schema.TagStore {
				store = t.Value
			}
		}
		if !p.MayWrite(store) {
			return deny(len(b.Events)+i, store)
		}
	}
	return nil
}

func (s *Server) limits() parse.Limits { return s.opts.Limits }

func (s *Server) respond(w http.ResponseWriter, endpoint string, res Result, aerr *apiError) {
	if aerr != nil {
		s.metrics.rejected(endpoint, aerr.kind, 1)
		aerr.write(w)
		return
	}
	writeJSON(w, http.StatusAccepted, res)
}

func (s *Server) postEvents(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	s.postJSON(w, r, p, "events", parse.Events)
}

func (s *Server) postMetrics(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	s.postJSON(w, r, p, "metrics", parse.Metrics)
}

// postJSON serves the JSON writes: tz= and history= from the query, then
// the body.
func (s *Server) postJSON(w http.ResponseWriter, r *http.Request, p *auth.Principal, endpoint string,
	parseBody func(io.Reader, parse.Limits) (event.Batch, error)) {
	opts, err := parse.ParseWriteOptions(r.URL.Query())
	if err != nil {
		s.respond(w, endpoint, Result{}, s.parseFailure(err))
		return
	}
	if aerr := authorizeHistory(p, opts.History); aerr != nil {
		s.respond(w, endpoint, Result{}, aerr)
		return
	}
	lim := opts.Apply(s.limits())
	res, aerr := s.ingest(w, r, p, endpoint, func(b io.Reader) (event.Batch, error) { return parseBody(b, lim) })
	s.logHistory(endpoint, p, opts.History, res, aerr)
	s.respond(w, endpoint, res, aerr)
}

func (s *Server) postCSV(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	m, err := parse.ParseCSVMapping(r.URL.Query())
	if err != nil {
		s.respond(w, "csv", Result{}, s.parseFailure(err))
		return
	}
	if aerr := authorizeHistory(p, m.History); aerr != nil {
		s.respond(w, "csv", Result{}, aerr)
		return
	}
	res, aerr := s.ingest(w, r, p, "csv", func(b io.Reader) (event.Batch, error) { return parse.CSV(b, m, s.limits()) })
	s.logHistory("csv", p, m.History, res, aerr)
	s.respond(w, "csv", res, aerr)
}

// authorizeHistory refuses a history import (history=true) by a token that
// is not an admin token (403), before the body is read.
func authorizeHistory(p *auth.Principal, history bool) *apiError {
	if !history || p.Admin() {
		return nil
	}
	return &apiError{status: http.StatusForbidden, kind: "forbidden",
		msg: fmt.Sprintf("token %q may not import history: history=true needs an admin token "+
			"(auth.tokens[].admin: true, or the token in STOREPULSE_AUTH_ADMIN_TOKENS); nothing was stored", p.Name)}
}

// logHistory records accepted history imports: they write into the past,
// which operators want to be able to trace.
func (s *Server) logHistory(endpoint string, p *auth.Principal, history bool, res Result, aerr *apiError) {
	if history && aerr == nil {
		s.log.Info("history import accepted", "endpoint", endpoint, "principal", p.Name,
			"accepted", res.Accepted, "duplicates", res.Duplicates)
	}
}
