package briefing

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/internal/kpi"
)

//go:embed playbook.yaml
var defaultPlaybook []byte

// DefaultPlaybookYAML is the playbook shipped with StorePulse.
func DefaultPlaybookYAML() []byte { return slices.Clone(defaultPlaybook) }

// Rule directions.
const (
	DirWorse  = "worse"
	DirBetter = "better"
	DirAny    = "any"
)

// AnyKPI in a rule's kpi list matches every KPI.
const AnyKPI = "*"

// MaxActions is the most suggestions a change gets.
const MaxActions = 3

// When is a rule's cause pattern: every field given must hold.
type When struct {
	// Dimension and Value: the change's dimension reason (store, channel,
	// category, campaign) and, optionally, its value.
	Dimension string `yaml:"dimension,omitempty"`
	Value     string `yaml:"value,omitempty"`
	// Effect: mix or rate, for ratios split by the dimension.
	Effect string `yaml:"effect,omitempty"`
	// FunnelStep: the funnel step that moved (sessions, add-to-cart,
	// orders, paid).
	FunnelStep string `yaml:"funnel_step,omitempty"`
	// Signal: a related signal among the reasons (store_silent, campaign,
	// refund_reason, price_index, first_response).
	Signal string `yaml:"signal,omitempty"`
	// Scope: store (a store's own change) or business.
	Scope string `yaml:"scope,omitempty"`
}

// Rule maps a cause pattern to an action and an owner.
type Rule struct {
	ID        string   `yaml:"id"`
	KPIs      []string `yaml:"kpi"`
	Direction string   `yaml:"direction,omitempty"` // worse (default), better, any
	When      When     `yaml:"when,omitempty"`
	// Fallback rules apply only when no other rule matched the change.
	Fallback bool   `yaml:"fallback,omitempty"`
	Action   string `yaml:"action"`
	Owner    string `yaml:"owner"`
}

// Playbook is the list of rules, in the order they are tried.
type Playbook struct {
	Rules []Rule `yaml:"rules"`
}

// playbookFile is the YAML document: a user file may replace the default
// rules (replace: true), disable some by id, and add or override rules by id.
type playbookFile struct {
	Version int      `yaml:"version"`
	Replace bool     `yaml:"replace,omitempty"`
	Disable []string `yaml:"disable,omitempty"`
	Rules   []Rule   `yaml:"rules"`
}

// LoadPlaybook reads the default playbook and, when path is not empty, the
// user's file over it; every rule is checked against the catalog.
func LoadPlaybook(cat *kpi.Catalog, path string) (*Playbook, error) {
	base, err := parsePlaybook(defaultPlaybook, "the default playbook")
	if err != nil {
		return nil, err
	}
	rules := base.Rules
	if path != "" {
		raw, err := os.ReadFile(path) //nolint:gosec // the operator's own configuration file
		if err != nil {
			return nil, fmt.Errorf("playbook: %w", err)
		}
		user, err := parsePlaybook(raw, path)
		if err != nil {
			return nil, err
		}
		if user.Replace {
			rules = nil
		}
		for _, id := range user.Disable {
			i := slices.IndexFunc(rules, func(r Rule) bool { return r.ID == id })
			if i < 0 {
				return nil, fmt.Errorf("playbook %s: disable: no rule %q in the default playbook", path, id)
			}
			rules = slices.Delete(rules, i, i+1)
		}
		for _, r := range user.Rules {
			if i := slices.IndexFunc(rules, func(o Rule) bool { return o.ID == r.ID }); i >= 0 {
				rules[i] = r
				continue
			}
			rules = append(rules, r)
		}
	}
	p := &Playbook{Rules: rules}
	if err := p.Validate(cat); err != nil {
		return nil, err
	}
	return p, nil
}

func parsePlaybook(raw []byte, name string) (*playbookFile, error) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var f playbookFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("playbook %s: %w", name, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("playbook %s: version must be 1, got %d", name, f.Version)
	}
	return &f, nil
}

// Validate checks every rule: a unique id, KPIs of the catalog, known
// directions, dimensions, effects, funnel steps and signals, an action and
// an owner.
func (p *Playbook) Validate(cat *kpi.Catalog) error {
	if len(p.Rules) == 0 {
		return errors.New("playbook: no rules")
	}
	seen := map[string]bool{}
	var steps []string
	for _, s := range engine.FunnelSteps() {
		steps = append(steps, s.Name)
	}
	signals := []string{ReasonSilent, ReasonCampaign, ReasonRefunds, ReasonPrice, ReasonService}
	for i, r := range p.Rules {
		where := fmt.Sprintf("playbook rule %d (%s)", i+1, r.ID)
		switch {
		case r.ID == "":
			return fmt.Errorf("%s: id is required", where)
		case seen[r.ID]:
			return fmt.Errorf("%s: duplicate id", where)
		case len(r.KPIs) == 0:
			return fmt.Errorf("%s: kpi lists no KPI", where)
		case strings.TrimSpace(r.Action) == "":
			return fmt.Errorf("%s: action is required", where)
		case strings.TrimSpace(r.Owner) == "":
			return fmt.Errorf("%s: owner is required", where)
		}
		seen[r.ID] = true
		for _, id := range r.KPIs {
			if id == AnyKPI {
				continue
			}
			if _, ok := cat.Get(id); !ok {
				return fmt.Errorf("%s: unknown KPI %q (see docs/kpis.md)", where, id)
			}
		}
		w := r.When
		switch {
		case !slices.Contains([]string{"", DirWorse, DirBetter, DirAny}, r.Direction):
			return fmt.Errorf("%s: direction %q is not worse, better or any", where, r.Direction)
		case !slices.Contains(append([]string{""}, explainDims()...), w.Dimension):
			return fmt.Errorf("%s: when.dimension %q is not one of %s", where, w.Dimension, strings.Join(explainDims(), ", "))
		case w.Value != "" && w.Dimension == "":
			return fmt.Errorf("%s: when.value needs when.dimension", where)
		case !slices.Contains([]string{"", "mix", "rate"}, w.Effect):
			return fmt.Errorf("%s: when.effect %q is not mix or rate", where, w.Effect)
		case w.FunnelStep != "" && !slices.Contains(steps, w.FunnelStep):
			return fmt.Errorf("%s: when.funnel_step %q is not one of %s", where, w.FunnelStep, strings.Join(steps, ", "))
		case w.Signal != "" && !slices.Contains(signals, w.Signal):
			return fmt.Errorf("%s: when.signal %q is not one of %s", where, w.Signal, strings.Join(signals, ", "))
		case !slices.Contains([]string{"", "store", "business"}, w.Scope):
			return fmt.Errorf("%s: when.scope %q is not store or business", where, w.Scope)
		}
	}
	return nil
}

// KPIs are the KPIs the rules name, in rule order.
func (p *Playbook) KPIs() []string {
	var out []string
	for _, r := range p.Rules {
		for _, id := range r.KPIs {
			if id != AnyKPI && !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out
}

// Match returns the suggestions for a change: the matching rules in order
// (fallback rules only when no other matched), at most MaxActions.
func (p *Playbook) Match(c *Change) []Action {
	out := []Action{}
	for _, fallback := range []bool{false, true} {
		if fallback && len(out) > 0 {
			break
		}
		for _, r := range p.Rules {
			if r.Fallback != fallback || !r.matches(c) {
				continue
			}
			out = append(out, Action{Rule: r.ID, Action: r.Action, Owner: r.Owner})
			if len(out) == MaxActions {
				return out
			}
		}
	}
	return out
}

func (r *Rule) matches(c *Change) bool {
	if !slices.Contains(r.KPIs, c.KPI) && !slices.Contains(r.KPIs, AnyKPI) {
		return false
	}
	switch r.Direction {
	case "", DirWorse:
		if c.Tone != ToneBad {
			return false
		}
	case DirBetter:
		if c.Tone != ToneGood {
			return false
		}
	}
	w := r.When
	switch w.Scope {
	case "store":
		if c.Store == "" {
			return false
		}
	case "business":
		if c.Store != "" {
			return false
		}
	}
	has := func(pred func(Reason) bool) bool { return slices.ContainsFunc(c.Reasons, pred) }
	if w.Dimension != "" && !has(func(x Reason) bool {
		return x.Kind == ReasonDimension && x.Dimension == w.Dimension && (w.Value == "" || x.Value == w.Value) && (w.Effect == "" || x.Effect == w.Effect)
	}) {
		return false
	}
	if w.Dimension == "" && w.Effect != "" && !has(func(x Reason) bool { return x.Kind == ReasonDimension && x.Effect == w.Effect }) {
		return false
	}
	if w.FunnelStep != "" && !has(func(x Reason) bool { return x.Kind == ReasonFunnel && x.Value == w.FunnelStep }) {
		return false
	}
	if w.Signal != "" && !has(func(x Reason) bool { return x.Kind == w.Signal }) {
		return false
	}
	return true
}
