package deliver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/storepulse/storepulse/digest/briefing"
	"github.com/storepulse/storepulse/digest/render"
	"github.com/storepulse/storepulse/internal/atomicfile"
)

// Target is one webhook of a list and the payload format it takes.
type Target struct {
	URL    string
	Format string // render.FormatSlack, FormatWeCom, FormatDingTalk, FormatWebhook, FormatJSON
}

// List is a recipient list: who gets which briefing when.
type List struct {
	Name     string
	Schedule *Schedule
	Store    string // empty: the whole business
	// Language of the list's briefing (en or zh-CN); empty: the builder's.
	Language string
	Email    []string
	Webhooks []Target
	// Dir receives the briefing as files (JSON, Markdown, HTML) named by
	// date: an archive, or a directory a web server publishes.
	Dir string
}

// Builder builds a briefing (briefing.Builder).
type Builder interface {
	Build(ctx context.Context, date, store string) (*briefing.Briefing, error)
}

// LanguageBuilder also builds in a given language (briefing.Builder's
// BuildIn); lists with a Language need it.
type LanguageBuilder interface {
	BuildIn(ctx context.Context, date, store, language string) (*briefing.Briefing, error)
}

// Service delivers the lists' briefings on their schedules.
type Service struct {
	Lists   []List
	Builder Builder
	SMTP    *SMTP // required when a list has e-mail recipients
	Webhook *Webhook
	// FailedDir keeps the payload of every delivery that failed for good.
	FailedDir string
	// StateDir keeps the delivery state (StateFile): per list, the last
	// scheduled run handled, so that a run missed while the service was
	// down is caught up once at start and none is delivered twice. Empty:
	// nothing is kept and nothing caught up.
	StateDir string
	// CatchUp is how old a missed scheduled run may be and still be
	// delivered at start (0: missed runs are never caught up).
	CatchUp time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
}

// catchUpScan bounds how far back a missed run is looked for (to say that
// one was too old to catch up).
const catchUpScan = 31 * 24 * time.Hour

// Run delivers every list at its scheduled times until ctx ends. At start
// it first catches up, once per list, the most recent scheduled run missed
// since the last one handled (StateDir), when it is at most CatchUp old.
func (s *Service) Run(ctx context.Context) error {
	st, err := loadState(s.StateDir)
	if err != nil {
		return err
	}
	s.catchUp(ctx, st)
	for {
		now := s.Now()
		var next time.Time
		var due []List
		for _, l := range s.Lists {
			t := l.Schedule.Next(now)
			switch {
			case next.IsZero() || t.Before(next):
				next, due = t, []List{l}
			case t.Equal(next):
				due = append(due, l)
			}
		}
		if next.IsZero() {
			return errors.New("deliver: no schedule fires")
		}
		s.Logger.Info("next delivery", "at", next, "lists", len(due))
		timer := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
		for _, l := range due {
			s.scheduled(ctx, st, l, next, false)
		}
	}
}

// catchUp delivers, per list, the most recent scheduled run missed since
// the last one handled, if it is at most CatchUp old.
func (s *Service) catchUp(ctx context.Context, st *state) {
	now := s.Now()
	for _, l := range s.Lists {
		ls := st.list(l.Name)
		if ls == nil {
			// Never served: runs before this start are owed nothing.
			if err := st.set(l.Name, listState{Done: now}); err != nil {
				s.Logger.Error("cannot record the delivery state", "list", l.Name, "err", err)
			}
			continue
		}
		if !ls.Running.IsZero() && ls.Running.After(ls.Done) {
			s.Logger.Error("a scheduled run was interrupted by a stop; it is not delivered again (it may have reached some channels): check the channels and failed_dir",
				"list", l.Name, "scheduled", ls.Running)
			ls.Done, ls.Running = ls.Running, time.Time{}
			if err := st.set(l.Name, *ls); err != nil {
				s.Logger.Error("cannot record the delivery state", "list", l.Name, "err", err)
			}
		}
		limit := ls.Done
		if scan := now.Add(-catchUpScan); limit.Before(scan) {
			limit = scan
		}
		missed := l.Schedule.Prev(now, limit)
		switch {
		case missed.IsZero():
		case s.CatchUp <= 0 || now.Sub(missed) > s.CatchUp:
			s.Logger.Warn("a scheduled run was missed while the service was down and is too old to catch up",
				"list", l.Name, "scheduled", missed, "catch_up", s.CatchUp)
		default:
			s.Logger.Info("catching up a scheduled run missed while the service was down", "list", l.Name, "scheduled", missed, "catch_up", true)
			s.scheduled(ctx, st, l, missed, true)
		}
	}
}

// scheduled delivers the list's run scheduled at at (the briefing of the
// day before at's date), once: the run is recorded as running before it
// starts and done after, so a restart never delivers it again. A run whose
// briefing could not be built is not done: a restart within CatchUp tries
// it again.
func (s *Service) scheduled(ctx context.Context, st *state, l List, at time.Time, catchUp bool) {
	log := s.Logger.With("list", l.Name, "scheduled", at, "catch_up", catchUp)
	ls := st.list(l.Name)
	if ls == nil {
		ls = &listState{}
	}
	if !at.After(ls.Done) {
		log.Info("scheduled run already delivered; not again")
		return
	}
	if err := st.set(l.Name, listState{Done: ls.Done, Running: at}); err != nil {
		// Delivering without the record could deliver it twice after a
		// restart: it is not delivered, loudly.
		log.Error("scheduled run NOT delivered: its delivery cannot be recorded (state_dir)", "err", err)
		return
	}
	svc := *s
	svc.Logger = log
	built, err := svc.deliver(ctx, l, briefing.Yesterday(at, l.Schedule.Location()))
	if err != nil {
		log.Error("delivery failed", "err", err)
	}
	next := listState{Done: at}
	if !built {
		next = listState{Done: ls.Done}
	}
	if err := st.set(l.Name, next); err != nil {
		log.Error("cannot record the delivery state", "err", err)
	}
}

// Deliver builds the list's briefing of yesterday and sends it to every
// channel. A channel that fails is logged as an error and its payload is
// written to FailedDir; the others are still served. The error joins every
// failure.
func (s *Service) Deliver(ctx context.Context, l List) error {
	_, err := s.deliver(ctx, l, "")
	return err
}

// deliver is Deliver of the briefing of date (empty: yesterday by the
// clock); built reports whether the briefing was built (and sent).
func (s *Service) deliver(ctx context.Context, l List, date string) (built bool, err error) {
	var br *briefing.Briefing
	if lb, ok := s.Builder.(LanguageBuilder); ok && l.Language != "" {
		br, err = lb.BuildIn(ctx, date, l.Store, l.Language)
	} else {
		br, err = s.Builder.Build(ctx, date, l.Store)
	}
	if err != nil {
		s.Logger.Error("briefing not built: nothing delivered", "list", l.Name, "err", err)
		return false, fmt.Errorf("list %s: %w", l.Name, err)
	}
	var errs []error
	fail := func(channel, ext string, payload []byte, err error) {
		path, werr := s.keep(l.Name, channel, ext, payload)
		s.Logger.Error("delivery failed", "list", l.Name, "channel", channel, "err", err, "kept", path, "keepErr", werr)
		errs = append(errs, fmt.Errorf("list %s, %s: %w", l.Name, channel, err))
	}
	if len(l.Email) > 0 {
		html, err := render.HTML(br)
		if err != nil {
			return true, err
		}
		m := Mail{To: l.Email, Subject: subject(br), Text: render.Markdown(br, render.DialectMarkdown), HTML: html}
		if err := s.SMTP.Send(ctx, m, s.Now()); err != nil {
			fail("email", "html", html, err)
		} else {
			s.Logger.Info("briefing mailed", "list", l.Name, "date", br.Date, "recipients", len(l.Email))
		}
	}
	if l.Dir != "" {
		for _, format := range []string{render.FormatJSON, render.FormatMarkdown, render.FormatHTML} {
			out, err := render.Render(br, format)
			if err != nil {
				return true, err
			}
			name := "briefing-" + br.Date
			if br.Store != "" {
				name += "-" + unsafeName().ReplaceAllString(br.Store, "_")
			}
			name += map[string]string{render.FormatJSON: ".json", render.FormatMarkdown: ".md", render.FormatHTML: ".html"}[format]
			if err := atomicfile.Write(filepath.Join(l.Dir, name), out, 0o644); err != nil {
				fail("dir", format, out, err)
				continue
			}
		}
		s.Logger.Info("briefing written", "list", l.Name, "date", br.Date, "dir", l.Dir)
	}
	for i, w := range l.Webhooks {
		payload, err := render.Render(br, w.Format)
		if err != nil {
			return true, err
		}
		channel := fmt.Sprintf("webhook %d (%s)", i+1, w.Format)
		if err := s.Webhook.Post(ctx, w.URL, payload); err != nil {
			fail(channel, w.Format+".json", payload, err)
			continue
		}
		s.Logger.Info("briefing posted", "list", l.Name, "date", br.Date, "webhook", i+1, "format", w.Format)
	}
	return true, errors.Join(errs...)
}

func subject(br *briefing.Briefing) string {
	s := fmt.Sprintf("%s briefing %s", br.Business, br.Date)
	if br.Store != "" {
		s += " · " + br.Store
	}
	if n := len(br.Changes); n > 0 {
		return fmt.Sprintf("%s: %d changes", s, n)
	}
	return s + ": nothing unusual"
}

// keep writes an undelivered payload to FailedDir.
func (s *Service) keep(list, channel, ext string, payload []byte) (string, error) {
	if s.FailedDir == "" {
		return "", errors.New("no failed_dir configured")
	}
	name := fmt.Sprintf("%s-%s-%s.%s", s.Now().UTC().Format("20060102T150405Z"), unsafeName().ReplaceAllString(list, "_"),
		unsafeName().ReplaceAllString(channel, "_"), ext)
	path := filepath.Join(s.FailedDir, name)
	if err := os.MkdirAll(s.FailedDir, 0o750); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, payload, 0o600)
}

func unsafeName() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9._-]+`) }
