package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/storepulse/storepulse/digest/deliver"
	"github.com/storepulse/storepulse/digest/locale"
	"github.com/storepulse/storepulse/digest/render"
)

// webhookFormats are the payloads a webhook can take.
func webhookFormats() []string {
	return []string{render.FormatSlack, render.FormatWeCom, render.FormatDingTalk, render.FormatWebhook, render.FormatJSON}
}

// serveLists checks the delivery configuration once and builds the lists,
// their schedules read in loc (the store time zone).
func (c *config) serveLists(loc *time.Location) ([]deliver.List, error) {
	if len(c.Lists) == 0 {
		return nil, errors.New("config: serve needs at least one recipient list (lists:)")
	}
	if c.FailedDir == "" {
		return nil, errors.New("config: serve needs failed_dir, where undelivered briefings are kept")
	}
	if c.StateDir == "" {
		return nil, errors.New("config: serve needs state_dir, where the delivery state is kept (no run is delivered twice, missed runs are caught up)")
	}
	if c.CatchUp < 0 {
		return nil, errors.New("config: catch_up must not be negative (0: missed runs are not caught up)")
	}
	var out []deliver.List
	seen := map[string]bool{}
	email := false
	for i, lc := range c.Lists {
		where := fmt.Sprintf("config: lists[%d] (%s)", i, lc.Name)
		switch {
		case lc.Name == "":
			return nil, fmt.Errorf("%s: name is required", where)
		case seen[lc.Name]:
			return nil, fmt.Errorf("%s: duplicate name", where)
		case len(lc.Email) == 0 && len(lc.Webhooks) == 0 && lc.Dir == "":
			return nil, fmt.Errorf("%s: no channel: give email recipients, webhooks or a dir", where)
		}
		seen[lc.Name] = true
		sched, err := deliver.ParseSchedule(lc.Schedule, loc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if _, err := locale.Parse(lc.Language); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		l := deliver.List{Name: lc.Name, Schedule: sched, Store: lc.Store, Language: lc.Language, Dir: lc.Dir}
		for _, a := range lc.Email {
			if _, err := mail.ParseAddress(a); err != nil {
				return nil, fmt.Errorf("%s: e-mail %q: %w", where, a, err)
			}
			l.Email = append(l.Email, a)
			email = true
		}
		for j, w := range lc.Webhooks {
			u, err := url.Parse(w.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, fmt.Errorf("%s: webhooks[%d]: not an http(s) URL", where, j) // the URL is a secret
			}
			if !slices.Contains(webhookFormats(), w.Format) {
				return nil, fmt.Errorf("%s: webhooks[%d]: format %q is not one of %s", where, j, w.Format, strings.Join(webhookFormats(), ", "))
			}
			l.Webhooks = append(l.Webhooks, deliver.Target{URL: w.URL, Format: w.Format})
		}
		out = append(out, l)
	}
	if email {
		if c.SMTP.Host == "" || c.SMTP.From == "" {
			return nil, errors.New("config: a list has e-mail recipients: smtp.host and smtp.from are required")
		}
		if _, err := mail.ParseAddress(c.SMTP.From); err != nil {
			return nil, fmt.Errorf("config: smtp.from %q: %w", c.SMTP.From, err)
		}
		if c.SMTP.Port < 1 || c.SMTP.Port > 65535 || c.SMTP.Timeout <= 0 {
			return nil, errors.New("config: smtp.port must be 1..65535 and smtp.timeout positive")
		}
	}
	if c.Webhook.Timeout <= 0 || c.Webhook.Attempts < 1 || c.Webhook.Backoff < 0 {
		return nil, errors.New("config: webhook.timeout must be positive, webhook.attempts at least 1")
	}
	return out, nil
}

func (c *config) smtp() *deliver.SMTP {
	return &deliver.SMTP{Host: c.SMTP.Host, Port: c.SMTP.Port, Username: c.SMTP.Username, Password: c.SMTP.Password,
		From: c.SMTP.From, Insecure: c.SMTP.Insecure, Timeout: c.SMTP.Timeout}
}

func (c *config) webhook() *deliver.Webhook {
	return &deliver.Webhook{Client: &http.Client{Timeout: c.Webhook.Timeout}, Attempts: c.Webhook.Attempts, Backoff: c.Webhook.Backoff}
}
