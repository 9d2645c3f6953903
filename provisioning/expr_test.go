package provisioning

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// A small evaluator of the Grafana server-side expressions the rules use
// (pkg/expr: reduce, threshold, math), with Grafana's semantics where the
// rules depend on them: reduce turns each series into a number with the same
// labels (dropNN drops null and NaN points first: an empty series gives sum 0
// and no value for the others; strict mode gives NaN on any null); threshold
// and comparisons give 1 or 0; math between two sets of numbers pairs the
// numbers whose labels are equal or contain one another; a missing value
// stays missing.

// expression is one server-side expression of a rule (datasource __expr__).
type expression struct {
	RefID      string    `json:"refId"`
	Datasource exprDSRef `json:"datasource"`
	Type       string    `json:"type"`
	Expression string    `json:"expression"`
	Reducer    string    `json:"reducer,omitempty"`
	Settings   *struct {
		Mode             string   `json:"mode"`
		ReplaceWithValue *float64 `json:"replaceWithValue,omitempty"`
	} `json:"settings,omitempty"`
	Conditions []struct {
		Evaluator thresholdEval `json:"evaluator"`
	} `json:"conditions,omitempty"`

	math mathNode
}

type exprDSRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type thresholdEval struct {
	Type   string    `json:"type"`
	Params []float64 `json:"params"`
}

// needs lists the refIds the expression reads.
func (e expression) needs() []string {
	if e.Type == "math" {
		var out []string
		e.math.refs(&out)
		return out
	}
	return []string{e.Expression}
}

// parseExpressions decodes and checks the rule's expressions (unknown keys
// refused), by refId.
func parseExpressions(data []ruleQuery) (map[string]expression, error) {
	out := map[string]expression{}
	for _, q := range data {
		if q.DatasourceUID != exprUID {
			continue
		}
		raw, err := json.Marshal(q.Model)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		var e expression
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("%s: %w", q.RefID, err)
		}
		if e.RefID != q.RefID || e.Datasource != (exprDSRef{exprUID, exprUID}) {
			return nil, fmt.Errorf("%s: the model's refId and datasource must be %s and %s", q.RefID, q.RefID, exprUID)
		}
		if err := e.check(); err != nil {
			return nil, fmt.Errorf("%s: %w", q.RefID, err)
		}
		out[q.RefID] = e
	}
	return out, nil
}

func (e *expression) check() error {
	switch e.Type {
	case "reduce":
		if !slices.Contains([]string{"sum", "mean", "min", "max", "count", "last"}, e.Reducer) {
			return fmt.Errorf("reducer %q", e.Reducer)
		}
		if e.Settings != nil && !slices.Contains([]string{"", "dropNN", "replaceNN"}, e.Settings.Mode) {
			return fmt.Errorf("reduce mode %q", e.Settings.Mode)
		}
		if e.Settings != nil && e.Settings.Mode == "replaceNN" && e.Settings.ReplaceWithValue == nil {
			return errors.New("replaceNN needs replaceWithValue")
		}
	case "threshold":
		if len(e.Conditions) != 1 {
			return errors.New("a threshold has exactly one condition")
		}
		ev := e.Conditions[0].Evaluator
		n := map[string]int{"gt": 1, "lt": 1, "gte": 1, "lte": 1, "eq": 1, "ne": 1,
			"within_range": 2, "outside_range": 2, "within_range_included": 2, "outside_range_included": 2}[ev.Type]
		if n == 0 || len(ev.Params) < n {
			return fmt.Errorf("threshold %q with %d parameters", ev.Type, len(ev.Params))
		}
	case "math":
		n, err := parseMath(e.Expression)
		if err != nil {
			return err
		}
		e.math = n
		return nil
	default:
		return fmt.Errorf("expression type %q (reduce, threshold, math)", e.Type)
	}
	if e.Expression == "" || strings.HasPrefix(e.Expression, "$") {
		return fmt.Errorf("%s takes a bare refId, got %q", e.Type, e.Expression)
	}
	return nil
}

// series is one series of a query's response (one per frame and value field).
type series struct {
	labels map[string]string
	values []*float64
}

// number is one labelled value of an expression; nil is no value.
type number struct {
	labels map[string]string
	value  *float64
}

func fptr(f float64) *float64 { return &f }

// result is what a refId evaluated to: series for a query, numbers for an
// expression.
type result struct {
	series  []series
	numbers []number
}

// evaluate runs the rule's expressions in dependency order over the query
// results and returns every refId's numbers.
func evaluate(r rule, exprs map[string]expression, queries map[string][]series) (map[string][]number, error) {
	res := map[string]result{}
	for ref, s := range queries {
		res[ref] = result{series: s}
	}
	pending := maps.Clone(exprs)
	for len(pending) > 0 {
		progressed := false
		for _, ref := range slices.Sorted(maps.Keys(pending)) {
			e := pending[ref]
			ready := true
			for _, n := range e.needs() {
				if _, ok := res[n]; !ok {
					ready = false
				}
			}
			if !ready {
				continue
			}
			nums, err := e.eval(res)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", r.UID, ref, err)
			}
			res[ref] = result{numbers: nums}
			delete(pending, ref)
			progressed = true
		}
		if !progressed {
			return nil, fmt.Errorf("%s: expressions %v depend on missing refIds", r.UID, slices.Sorted(maps.Keys(pending)))
		}
	}
	out := map[string][]number{}
	for ref, v := range res {
		if v.series == nil {
			out[ref] = v.numbers
		}
	}
	return out, nil
}

func (e expression) eval(res map[string]result) ([]number, error) {
	switch e.Type {
	case "reduce":
		in := res[e.Expression]
		if in.series == nil && in.numbers != nil {
			return nil, errors.New("reduce takes a query's series")
		}
		out := make([]number, 0, len(in.series))
		for _, s := range in.series {
			out = append(out, number{labels: s.labels, value: e.reduce(s.values)})
		}
		return out, nil
	case "threshold":
		in := res[e.Expression]
		if in.series != nil {
			return nil, errors.New("the rules threshold reduced numbers, not series")
		}
		ev := e.Conditions[0].Evaluator
		out := make([]number, 0, len(in.numbers))
		for _, n := range in.numbers {
			var v *float64
			if n.value != nil {
				v = fptr(b2f(thresholdHolds(ev, *n.value)))
			}
			out = append(out, number{labels: n.labels, value: v})
		}
		return out, nil
	case "math":
		return e.math.eval(res)
	}
	return nil, fmt.Errorf("type %q", e.Type)
}

func (e expression) reduce(vals []*float64) *float64 {
	mode := ""
	if e.Settings != nil {
		mode = e.Settings.Mode
	}
	var xs []float64
	for _, v := range vals {
		bad := v == nil || math.IsNaN(*v) || math.IsInf(*v, 0)
		switch {
		case bad && mode == "dropNN":
		case bad && mode == "replaceNN":
			xs = append(xs, *e.Settings.ReplaceWithValue)
		case v == nil:
			xs = append(xs, math.NaN())
		default:
			xs = append(xs, *v)
		}
	}
	r := reduceFloats(e.Reducer, xs)
	if math.IsNaN(r) && mode == "dropNN" {
		return nil
	}
	return &r
}

// reduceFloats is Grafana's reducers (mathexp/reduce.go): a NaN makes sum,
// mean, min and max NaN; mean, min, max and last of nothing are NaN.
func reduceFloats(reducer string, xs []float64) float64 {
	switch reducer {
	case "count":
		return float64(len(xs))
	case "last":
		if len(xs) == 0 {
			return math.NaN()
		}
		return xs[len(xs)-1]
	}
	if slices.ContainsFunc(xs, math.IsNaN) || (len(xs) == 0 && reducer != "sum") {
		return math.NaN()
	}
	var r float64
	switch reducer {
	case "sum", "mean":
		for _, x := range xs {
			r += x
		}
		if reducer == "mean" {
			r /= float64(len(xs))
		}
	case "min":
		r = slices.Min(xs)
	case "max":
		r = slices.Max(xs)
	}
	return r
}

func thresholdHolds(ev thresholdEval, v float64) bool {
	p := ev.Params
	switch ev.Type {
	case "gt":
		return v > p[0]
	case "lt":
		return v < p[0]
	case "gte":
		return v >= p[0]
	case "lte":
		return v <= p[0]
	case "eq":
		return v == p[0]
	case "ne":
		return v != p[0]
	case "within_range":
		return v > p[0] && v < p[1]
	case "outside_range":
		return v < p[0] || v > p[1]
	case "within_range_included":
		return v >= p[0] && v <= p[1]
	case "outside_range_included":
		return v <= p[0] || v >= p[1]
	}
	return false
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// mathNode is a parsed math expression: a number, a $refId, a unary or
// binary operator or a function call.
type mathNode struct {
	op   string // "num", "ref", "neg", "not", "call" or a binary operator
	num  float64
	name string // refId or function name
	args []mathNode
}

func (n mathNode) refs(out *[]string) {
	if n.op == "ref" && !slices.Contains(*out, n.name) {
		*out = append(*out, n.name)
	}
	for _, a := range n.args {
		a.refs(out)
	}
}

// Binary operators by precedence, lowest first, as in Grafana's math
// expressions (pkg/expr/mathexp/parse).
func mathLevels() [][]string {
	return [][]string{{"||"}, {"&&"}, {"==", "!=", ">=", "<=", ">", "<"}, {"+", "-"}, {"*", "/", "%"}}
}

func mathFuncs() map[string]func(float64) float64 {
	return map[string]func(float64) float64{
		"abs": math.Abs, "log": math.Log, "round": math.Round, "ceil": math.Ceil, "floor": math.Floor,
		"is_nan": func(v float64) float64 { return b2f(math.IsNaN(v)) },
		"is_inf": func(v float64) float64 { return b2f(math.IsInf(v, 0)) },
	}
}

type mathParser struct {
	toks []string
	pos  int
}

func parseMath(s string) (mathNode, error) {
	toks, err := mathTokens(s)
	if err != nil {
		return mathNode{}, err
	}
	p := &mathParser{toks: toks}
	n, err := p.binary(0)
	if err != nil {
		return n, fmt.Errorf("math %q: %w", s, err)
	}
	if p.pos != len(p.toks) {
		return n, fmt.Errorf("math %q: unexpected %q", s, p.toks[p.pos])
	}
	return n, nil
}

func mathTokens(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '$':
			j := i + 1
			if j < len(s) && s[j] == '{' {
				k := strings.IndexByte(s[j:], '}')
				if k < 0 {
					return nil, fmt.Errorf("unclosed ${ in %q", s)
				}
				toks = append(toks, "$"+s[j+1:j+k])
				i = j + k + 1
				continue
			}
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '_') {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("empty variable in %q", s)
			}
			toks = append(toks, s[i:j])
			i = j
		case unicode.IsDigit(c) || c == '.':
			j := i
			for j < len(s) && (unicode.IsDigit(rune(s[j])) || s[j] == '.' || s[j] == 'e') {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		case unicode.IsLetter(c):
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || s[j] == '_') {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			if i+1 < len(s) && slices.Contains([]string{"||", "&&", "==", "!=", ">=", "<="}, s[i:i+2]) {
				toks = append(toks, s[i:i+2])
				i += 2
				continue
			}
			if !strings.ContainsRune("+-*/%<>!()", c) {
				return nil, fmt.Errorf("unexpected %q in %q", c, s)
			}
			toks = append(toks, string(c))
			i++
		}
	}
	return toks, nil
}

func (p *mathParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *mathParser) binary(level int) (mathNode, error) {
	if level == len(mathLevels()) {
		return p.unary()
	}
	left, err := p.binary(level + 1)
	if err != nil {
		return left, err
	}
	for slices.Contains(mathLevels()[level], p.peek()) {
		op := p.toks[p.pos]
		p.pos++
		right, err := p.binary(level + 1)
		if err != nil {
			return left, err
		}
		left = mathNode{op: op, args: []mathNode{left, right}}
	}
	return left, nil
}

func (p *mathParser) unary() (mathNode, error) {
	t := p.peek()
	p.pos++
	switch {
	case t == "":
		return mathNode{}, errors.New("unexpected end")
	case t == "-" || t == "!":
		a, err := p.unary()
		op := map[string]string{"-": "neg", "!": "not"}[t]
		return mathNode{op: op, args: []mathNode{a}}, err
	case t == "(":
		n, err := p.binary(0)
		if err != nil {
			return n, err
		}
		if p.peek() != ")" {
			return n, errors.New("missing )")
		}
		p.pos++
		return n, nil
	case strings.HasPrefix(t, "$"):
		return mathNode{op: "ref", name: t[1:]}, nil
	case unicode.IsDigit(rune(t[0])) || t[0] == '.':
		f, err := strconv.ParseFloat(t, 64)
		return mathNode{op: "num", num: f}, err
	case mathFuncs()[t] != nil:
		if p.peek() != "(" {
			return mathNode{}, fmt.Errorf("%s needs (", t)
		}
		p.pos++
		a, err := p.binary(0)
		if err != nil {
			return a, err
		}
		if p.peek() != ")" {
			return a, errors.New("missing )")
		}
		p.pos++
		return mathNode{op: "call", name: t, args: []mathNode{a}}, nil
	}
	return mathNode{}, fmt.Errorf("unexpected %q", t)
}

// value is a math operand: a scalar or a set of labelled numbers.
type value struct {
	scalar  *float64
	isScal  bool
	numbers []number
}

func (n mathNode) eval(res map[string]result) ([]number, error) {
	v, err := n.value(res)
	if err != nil {
		return nil, err
	}
	if v.isScal {
		return []number{{value: v.scalar}}, nil
	}
	return v.numbers, nil
}

func (n mathNode) value(res map[string]result) (value, error) {
	switch n.op {
	case "num":
		return value{isScal: true, scalar: fptr(n.num)}, nil
	case "ref":
		r, ok := res[n.name]
		if !ok || r.series != nil {
			return value{}, fmt.Errorf("$%s: the rules' math reads reduced numbers", n.name)
		}
		return value{numbers: r.numbers}, nil
	}
	var args []value
	for _, a := range n.args {
		v, err := a.value(res)
		if err != nil {
			return v, err
		}
		args = append(args, v)
	}
	switch n.op {
	case "neg", "not", "call":
		f := map[string]func(float64) float64{
			"neg": func(x float64) float64 { return -x },
			"not": func(x float64) float64 { return b2f(x == 0) },
		}[n.op]
		if n.op == "call" {
			f = mathFuncs()[n.name]
		}
		return mapValue(args[0], f), nil
	}
	return binary(n.op, args[0], args[1]), nil
}

func mapValue(v value, f func(float64) float64) value {
	apply := func(p *float64) *float64 {
		if p == nil {
			return nil
		}
		return fptr(f(*p))
	}
	if v.isScal {
		return value{isScal: true, scalar: apply(v.scalar)}
	}
	out := value{}
	for _, n := range v.numbers {
		out.numbers = append(out.numbers, number{labels: n.labels, value: apply(n.value)})
	}
	return out
}

func binop(op string, a, b float64) float64 {
	switch op {
	case "+":
		return a + b
	case "-":
		return a - b
	case "*":
		return a * b
	case "/":
		return a / b
	case "%":
		return math.Mod(a, b)
	case "==":
		return b2f(a == b)
	case "!=":
		return b2f(a != b)
	case ">":
		return b2f(a > b)
	case "<":
		return b2f(a < b)
	case ">=":
		return b2f(a >= b)
	case "<=":
		return b2f(a <= b)
	case "&&":
		return b2f(a != 0 && b != 0)
	case "||":
		return b2f(a != 0 || b != 0)
	}
	return math.NaN()
}

// binary applies op to two operands: scalars to every number, two sets
// pairwise by labels (equal, or one containing the other), or a single
// number to every number of the other side when nothing pairs.
func binary(op string, a, b value) value {
	calc := func(x, y *float64) *float64 {
		if x == nil || y == nil {
			return nil
		}
		return fptr(binop(op, *x, *y))
	}
	switch {
	case a.isScal && b.isScal:
		return value{isScal: true, scalar: calc(a.scalar, b.scalar)}
	case a.isScal:
		return mapPair(b, func(y *float64) *float64 { return calc(a.scalar, y) })
	case b.isScal:
		return mapPair(a, func(x *float64) *float64 { return calc(x, b.scalar) })
	}
	var out value
	for _, x := range a.numbers {
		for _, y := range b.numbers {
			switch {
			case contains(x.labels, y.labels):
				out.numbers = append(out.numbers, number{labels: x.labels, value: calc(x.value, y.value)})
			case contains(y.labels, x.labels):
				out.numbers = append(out.numbers, number{labels: y.labels, value: calc(x.value, y.value)})
			}
		}
	}
	if len(out.numbers) == 0 && (len(a.numbers) == 1 || len(b.numbers) == 1) {
		for _, x := range a.numbers {
			for _, y := range b.numbers {
				l := x.labels
				if len(y.labels) > len(l) {
					l = y.labels
				}
				out.numbers = append(out.numbers, number{labels: l, value: calc(x.value, y.value)})
			}
		}
	}
	return out
}

func mapPair(v value, f func(*float64) *float64) value {
	var out value
	for _, n := range v.numbers {
		out.numbers = append(out.numbers, number{labels: n.labels, value: f(n.value)})
	}
	return out
}

// contains reports whether labels a hold every label of b.
func contains(a, b map[string]string) bool {
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// firing returns the label sets of the condition's numbers that fire (a
// value other than 0; no value is NoData, not firing).
func firing(nums []number) []map[string]string {
	var out []map[string]string
	for _, n := range nums {
		if n.value != nil && !math.IsNaN(*n.value) && *n.value != 0 {
			out = append(out, n.labels)
		}
	}
	return out
}

func TestExpressionEvaluator(t *testing.T) {
	s := func(store string, vs ...any) series {
		out := series{labels: map[string]string{"store": store}}
		for _, v := range vs {
			if f, ok := v.(float64); ok {
				out.values = append(out.values, fptr(f))
			} else {
				out.values = append(out.values, nil)
			}
		}
		return out
	}
	q := func(ref string, m map[string]any) ruleQuery {
		m["refId"] = ref
		m["datasource"] = map[string]any{"type": exprUID, "uid": exprUID}
		return ruleQuery{RefID: ref, DatasourceUID: exprUID, Model: m}
	}
	reduce := func(ref, of, reducer, mode string) ruleQuery {
		return q(ref, map[string]any{"type": "reduce", "expression": of, "reducer": reducer, "settings": map[string]any{"mode": mode}})
	}
	queries := map[string][]series{
		"A": {s("s1", 1.0, nil, 3.0), s("s2", nil, nil), s("s3", 4.0, 10.0)},
		"B": {s("s1", 2.0), s("s3", 1.0), s("s4", 1.0)},
	}
	tests := []struct {
		name string
		data []ruleQuery
		cond string
		want map[string]*float64 // by store; nil = no value
	}{
		{"sum dropNN, empty is 0", []ruleQuery{reduce("C", "A", "sum", "dropNN")}, "C",
			map[string]*float64{"s1": fptr(4), "s2": fptr(0), "s3": fptr(14)}},
		{"sum strict, a null is NaN", []ruleQuery{reduce("C", "A", "sum", "")}, "C",
			map[string]*float64{"s1": fptr(math.NaN()), "s2": fptr(math.NaN()), "s3": fptr(14)}},
		{"mean dropNN, empty has no value", []ruleQuery{reduce("C", "A", "mean", "dropNN")}, "C",
			map[string]*float64{"s1": fptr(2), "s2": nil, "s3": fptr(7)}},
		{"max and last", []ruleQuery{reduce("C", "A", "max", "dropNN"), reduce("D", "A", "last", "dropNN"),
			q("E", map[string]any{"type": "math", "expression": "$C * 100 + $D"})}, "E",
			map[string]*float64{"s1": fptr(303), "s2": nil, "s3": fptr(1010)}},
		{"threshold lt", []ruleQuery{reduce("C", "A", "min", "dropNN"),
			q("D", map[string]any{"type": "threshold", "expression": "C", "conditions": []any{
				map[string]any{"evaluator": map[string]any{"type": "lt", "params": []any{2.0}}}}})}, "D",
			map[string]*float64{"s1": fptr(1), "s2": nil, "s3": fptr(0)}},
		{"math pairs by labels, precedence, &&", []ruleQuery{reduce("C", "A", "sum", "dropNN"), reduce("D", "B", "sum", "dropNN"),
			q("E", map[string]any{"type": "math", "expression": "($D >= 2) && $C < 3 * $D || -$C == -14"})}, "E",
			map[string]*float64{"s1": fptr(1), "s3": fptr(1)}},
		{"division", []ruleQuery{reduce("C", "A", "sum", "dropNN"), reduce("D", "B", "sum", "dropNN"),
			q("E", map[string]any{"type": "math", "expression": "${C} / $D"})}, "E",
			map[string]*float64{"s1": fptr(2), "s3": fptr(14)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exprs, err := parseExpressions(tc.data)
			require.NoError(t, err)
			got, err := evaluate(rule{UID: "t"}, exprs, queries)
			require.NoError(t, err)
			byStore := map[string]*float64{}
			for _, n := range got[tc.cond] {
				byStore[n.labels["store"]] = n.value
			}
			require.Len(t, byStore, len(tc.want))
			for st, w := range tc.want {
				g, ok := byStore[st]
				require.True(t, ok, st)
				switch {
				case w == nil:
					require.Nil(t, g, st)
				case math.IsNaN(*w):
					require.True(t, g != nil && math.IsNaN(*g), st)
				default:
					require.NotNil(t, g, st)
					require.InDelta(t, *w, *g, 1e-9, st)
				}
			}
		})
	}

	bad := []struct {
		name string
		q    ruleQuery
	}{
		{"unknown key", q("C", map[string]any{"type": "reduce", "expression": "A", "reducer": "sum", "window": "1h"})},
		{"unknown reducer", q("C", map[string]any{"type": "reduce", "expression": "A", "reducer": "p95"})},
		{"unknown type", q("C", map[string]any{"type": "sql", "expression": "SELECT 1"})},
		{"bad math", q("C", map[string]any{"type": "math", "expression": "$A >"})},
		{"two conditions", q("C", map[string]any{"type": "threshold", "expression": "A", "conditions": []any{
			map[string]any{"evaluator": map[string]any{"type": "gt", "params": []any{1.0}}},
			map[string]any{"evaluator": map[string]any{"type": "lt", "params": []any{1.0}}}}})},
	}
	for _, tc := range bad {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			_, err := parseExpressions([]ruleQuery{tc.q})
			require.Error(t, err)
		})
	}
}
