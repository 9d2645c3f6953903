package server

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/storepulse/storepulse/ingest/auth"
	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/ingest/parse"
)

// The line-protocol endpoints answer like InfluxDB 1.8: each line stands
// alone, so the valid lines of a body are stored and the refused ones are
// named in a 400 (a partial write) that InfluxDB's clients recognise.

// postWriteV2 is InfluxDB's v2 write API. The bucket parameter is required
// and must be one of lineprotocol.databases when that is set (any name when
// not: every point goes to the bucket StorePulse is configured with); a
// bucket "db/rp" (InfluxDB 1.8's form) is matched by its db; org is ignored.
func (s *Server) postWriteV2(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	bucket := r.URL.Query().Get("bucket")
	if bucket == "" {
		s.lpRefuse(w, "write_v2", "bucket is required")
		return
	}
	db, _, _ := strings.Cut(bucket, "/")
	if !s.knownDatabase(bucket) && !s.knownDatabase(db) {
		// InfluxDB 2.x's answer.
		s.lpNotFound(w, "write_v2", fmt.Sprintf("bucket %q not found", bucket))
		return
	}
	s.writeLineProtocol(w, r, p, "write_v2")
}

// postWriteV1 is InfluxDB's v1 write API. db is required and must be one of
// lineprotocol.databases when that is set (like bucket above); rp is ignored.
func (s *Server) postWriteV1(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	db := r.URL.Query().Get("db")
	if db == "" {
		s.lpRefuse(w, "write_v1", "database is required")
		return
	}
	if !s.knownDatabase(db) {
		// InfluxDB 1.8's answer: 404 {"error":"database not found: \"x\""}.
		s.lpNotFound(w, "write_v1", fmt.Sprintf("database not found: %q", db))
		return
	}
	s.writeLineProtocol(w, r, p, "write_v1")
}

// knownDatabase: lineprotocol.databases is empty (any name) or lists name.
func (s *Server) knownDatabase(name string) bool {
	return len(s.opts.Databases) == 0 || slices.Contains(s.opts.Databases, name)
}

// lpNotFound answers a write to a database or bucket not configured: 404,
// nothing stored.
func (s *Server) lpNotFound(w http.ResponseWriter, endpoint, msg string) {
	s.metrics.rejected(endpoint, "not_found", 1)
	w.Header().Set("X-Influxdb-Error", msg)
	writeJSON(w, http.StatusNotFound, errorBody{Error: msg, Kind: "not_found", Code: "not found", Message: msg})
}

func (s *Server) lpRefuse(w http.ResponseWriter, endpoint, msg string) {
	s.metrics.rejected(endpoint, parse.KindInvalidRequest, 1)
	writeError(w, http.StatusBadRequest, parse.KindInvalidRequest, msg, nil)
}

func (s *Server) writeLineProtocol(w http.ResponseWriter, r *http.Request, p *auth.Principal, endpoint string) {
	precision := r.URL.Query().Get("precision")
	var rejected *parse.Error
	written := 0
	_, aerr := s.ingest(w, r, p, endpoint, func(b io.Reader) (event.Batch, error) {
		batch, rej, err := parse.LineProtocolPartial(b, precision, s.limits())
		rejected, written = rej, len(batch.Points)
		return batch, err
	})
	if aerr != nil {
		// Nothing was stored: a bad request as a whole, or the spool.
		s.metrics.rejected(endpoint, aerr.kind, 1)
		aerr.write(w)
		return
	}
	if rejected == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	refused := rejected.Refused()
	s.metrics.rejected(endpoint, "partial_write", 1) // a request, partly refused
	msg := partialWriteMessage(endpoint, rejected, written, refused)
	writeJSON(w, http.StatusBadRequest, errorBody{Error: msg, Kind: "partial_write", Items: rejected.Items,
		Truncated: rejected.Truncated, Code: "invalid", Message: msg})
}

// partialWriteMessage renders the refused lines as InfluxDB does, so that
// clients (Telegraf drops a batch that is a "partial write" or "unable to
// parse" instead of retrying it) treat it as InfluxDB's:
//
//	v1 (InfluxDB 1.8): partial write: unable to parse '<line>': <reason>\n... dropped=N
//	                   (only the lines when nothing was written)
//	v2:                partial write error (N written): unable to parse '<line>': <reason>\n...
func partialWriteMessage(endpoint string, e *parse.Error, written, refused int) string {
	var b strings.Builder
	for i, it := range e.Items {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "unable to parse '%s': line %d", it.Input, it.Line)
		if it.Field != "" {
			fmt.Fprintf(&b, ": field %q", it.Field)
		}
		b.WriteString(": ")
		b.WriteString(it.Reason)
	}
	if e.Truncated > 0 {
		fmt.Fprintf(&b, "\nand %d more errors not listed", e.Truncated)
	}
	lines := b.String()
	if endpoint == "write_v2" {
		return "partial write error (" + strconv.Itoa(written) + " written): " + lines
	}
	if written == 0 {
		return lines
	}
	return "partial write: " + lines + " dropped=" + strconv.Itoa(refused)
}

// createDatabase matches the statement Telegraf's v1 output (and other v1
// clients) send at start: CREATE DATABASE name [WITH ...].
var createDatabase = regexp.MustCompile(`(?is)^\s*CREATE\s+DATABASE\s+("(?:[^"\\]|\\.)+"|[A-Za-z_][A-Za-z0-9_]*)(\s+WITH\s.*)?\s*;?\s*$`)

// maxQueryBytes bounds a /query request's form.
const maxQueryBytes = 64 << 10

// query is the part of InfluxDB's v1 /query that write clients use: CREATE
// DATABASE answers as InfluxDB does when the database exists (StorePulse
// writes every database to its one bucket). Anything else is refused: data
// is read through Grafana, not here.
func (s *Server) query(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	r.Body = http.MaxBytesReader(w, r.Body, maxQueryBytes)
	if err := r.ParseForm(); err != nil {
		s.metrics.rejected("query", parse.KindInvalidRequest, 1)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "cannot read the query form: " + err.Error()})
		return
	}
	q := r.Form.Get("q")
	w.Header().Set("X-Influxdb-Version", "storepulse")
	if q == "" {
		s.metrics.rejected("query", parse.KindInvalidRequest, 1)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `missing required parameter "q"`})
		return
	}
	if !createDatabase.MatchString(q) {
		s.metrics.rejected("query", parse.KindInvalidRequest, 1)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "StorePulse answers only CREATE DATABASE on /query " +
			"(every database is written to its one InfluxDB bucket); query data through Grafana or InfluxDB itself"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": []map[string]int{{"statement_id": 0}}})
}
