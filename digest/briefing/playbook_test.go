package briefing

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/kpi"
)

// Every KPI of the glossary gets a suggestion from the default playbook when
// it moves the wrong way, or the right way, whatever the cause.
func TestDefaultPlaybookCoversTheGlossary(t *testing.T) {
	cat := kpi.Default()
	p, err := LoadPlaybook(cat, "")
	require.NoError(t, err)
	for _, k := range cat.All() {
		if k.Kind == kpi.KindTransform {
			continue
		}
		for _, tone := range []string{ToneBad, ToneGood} {
			acts := p.Match(&Change{KPI: k.ID, Tone: tone})
			require.NotEmpty(t, acts, "%s %s: no suggestion", k.ID, tone)
			for _, a := range acts {
				require.NotEmpty(t, a.Rule)
				require.NotEmpty(t, a.Owner)
			}
		}
	}
}

func TestPlaybookMatch(t *testing.T) {
	p, err := LoadPlaybook(kpi.Default(), "")
	require.NoError(t, err)
	tests := []struct {
		name  string
		c     Change
		first string
	}{
		{"checkout", Change{KPI: "order_conversion_rate", Tone: ToneBad, Reasons: []Reason{{Kind: ReasonFunnel, Value: "orders"}}}, "checkout-broken"},
		{"payments", Change{KPI: "paid_revenue", Tone: ToneBad, Reasons: []Reason{{Kind: ReasonFunnel, Value: "paid"}}}, "payment-gateway"},
		{"silent store", Change{KPI: "sessions", Tone: ToneBad, Store: "s1", Reasons: []Reason{{Kind: ReasonSilent, Value: "s1"}}}, "store-silent"},
		{"aov mix", Change{KPI: "aov", Tone: ToneBad, Reasons: []Reason{{Kind: ReasonDimension, Dimension: "category", Value: "shoes", Effect: "mix"}}}, "aov-mix"},
		{"price error", Change{KPI: "price_index", Tone: ToneGood, Store: "s3", Category: "apparel", Reasons: []Reason{{Kind: ReasonPrice, Dimension: "category", Value: "apparel"}}}, "price-error"},
		{"price index, business", Change{KPI: "price_index", Tone: ToneGood, Reasons: []Reason{{Kind: ReasonPrice, Dimension: "category", Value: "apparel"}}}, "competitor-prices"},
		{"fallback", Change{KPI: "gmv", Tone: ToneBad}, "revenue-drop"},
		{"better", Change{KPI: "gmv", Tone: ToneGood}, "revenue-spike"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acts := p.Match(&tt.c)
			require.NotEmpty(t, acts)
			require.Equal(t, tt.first, acts[0].Rule)
			require.LessOrEqual(t, len(acts), MaxActions)
		})
	}
}

func TestPlaybookOverride(t *testing.T) {
	cat := kpi.Default()
	dir := t.TempDir()
	write := func(body string) string {
		path := filepath.Join(dir, "playbook.yaml")
		require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
		return path
	}
	p, err := LoadPlaybook(cat, write(`version: 1
disable: [revenue-spike]
rules:
  - id: revenue-drop
    kpi: [gmv]
    fallback: true
    action: Call the director.
    owner: director
  - id: my-rule
    kpi: [gmv]
    direction: better
    action: Celebrate.
    owner: everyone
`))
	require.NoError(t, err)
	require.Equal(t, "Call the director.", p.Match(&Change{KPI: "gmv", Tone: ToneBad})[0].Action)
	require.Equal(t, "my-rule", p.Match(&Change{KPI: "gmv", Tone: ToneGood})[0].Rule)

	p, err = LoadPlaybook(cat, write("version: 1\nreplace: true\nrules:\n  - {id: only, kpi: [gmv], action: a, owner: o}\n"))
	require.NoError(t, err)
	require.Len(t, p.Rules, 1)

	bad := []struct{ body, msg string }{
		{"version: 1\nrules:\n  - {id: x, kpi: [gmvv], action: a, owner: o}\n", `unknown KPI "gmvv"`},
		{"version: 2\nrules: []\n", "version must be 1"},
		{"version: 1\nrules:\n  - {id: x, kpi: [gmv], action: a}\n", "owner is required"},
		{"version: 1\nrules:\n  - {id: x, kpi: [gmv], action: a, owner: o, direction: down}\n", `direction "down"`},
		{"version: 1\nrules:\n  - {id: x, kpi: [gmv], action: a, owner: o, when: {funnel_step: pay}}\n", `funnel_step "pay"`},
		{"version: 1\nrules:\n  - {id: x, kpi: [gmv], action: a, owner: o, when: {signal: rain}}\n", `signal "rain"`},
		{"version: 1\nrules:\n  - {id: x, kpi: [gmv], action: a, owner: o, colour: red}\n", "field colour not found"},
		{"version: 1\ndisable: [nope]\nrules: []\n", `no rule "nope"`},
	}
	for _, tt := range bad {
		_, err := LoadPlaybook(cat, write(tt.body))
		require.ErrorContains(t, err, tt.msg, tt.body)
	}
}
