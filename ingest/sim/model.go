package sim

import (
	"math"
	"math/rand/v2"
)

// hourShape is the share of a day's traffic per local hour: quiet nights,
// a lunch peak and a bigger evening peak.
func hourShape() [24]float64 {
	s := [24]float64{
		0.020, 0.010, 0.006, 0.004, 0.004, 0.006, 0.014, 0.028, 0.040, 0.048, 0.054, 0.060,
		0.068, 0.062, 0.052, 0.050, 0.050, 0.052, 0.058, 0.068, 0.078, 0.080, 0.064, 0.040,
	}
	var sum float64
	for _, v := range s {
		sum += v
	}
	for i := range s {
		s[i] /= sum
	}
	return s
}

// peakMidnightBoost multiplies the first hours of a peak day: the deals open
// at midnight and shoppers wait for them.
func peakMidnightBoost(hour int) float64 {
	switch hour {
	case 0:
		return 6
	case 1:
		return 3
	}
	return 1
}

// Life-cycle stages of a category over the simulated year.
type stage uint8

const (
	stageIntroduction stage = iota
	stageGrowth
	stageMaturity
	stageDecline
)

func (s stage) String() string {
	return [...]string{"introduction", "growth", "maturity", "decline"}[s]
}

func logistic(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// lifecycle is a category's demand factor on day d (0 = first simulated day):
// introduction stays low then takes off late in the year, growth climbs in the
// first months, maturity is flat, decline fades.
func (s stage) factor(d float64) float64 {
	switch s {
	case stageIntroduction:
		return 0.15 + 0.85*logistic((d-200)/35)
	case stageGrowth:
		return 0.3 + 0.7*logistic((d-45)/30)
	case stageDecline:
		return 1 - 0.65*logistic((d-60)/45)
	}
	return 1
}

// assignStages gives each category a life-cycle stage: a seeded permutation
// dealt round-robin so that every stage is present.
func assignStages(seed uint64, n int) []stage {
	rng := newRNG(seed, saltLifecycle, 0)
	perm := rng.Perm(n)
	out := make([]stage, n)
	for i, p := range perm {
		out[p] = stage(i % 4)
	}
	return out
}

// Competitors watched for every category.
func competitors() []string { return []string{"jd", "pdd", "douyin"} }

const numCompetitors = 3

// priceBook is the market: competitor prices per category and our answer to
// them, moving once a day. Prices are shared by all stores (one market);
// each store applies its own small factor.
type priceBook struct {
	base []float64
	own  []float64
	comp [][numCompetitors]float64
	day  int
}

func newPriceBook(seed uint64, cats []Category) *priceBook {
	pb := &priceBook{
		base: make([]float64, len(cats)),
		own:  make([]float64, len(cats)),
		comp: make([][numCompetitors]float64, len(cats)),
		day:  -1,
	}
	rng := newRNG(seed, saltPrices, math.MaxUint32)
	for i, c := range cats {
		pb.base[i] = c.BasePrice
		pb.own[i] = c.BasePrice
		for k := range pb.comp[i] {
			pb.comp[i][k] = cents(c.BasePrice * (0.95 + 0.13*rng.Float64()))
		}
	}
	return pb
}

// advance moves the market to day d: competitors occasionally cut or raise a
// price and otherwise drift back to their usual level; we follow the cheapest
// competitor to within about 3%, closing half the gap each day.
func (pb *priceBook) advance(seed uint64, d int) {
	for pb.day < d {
		pb.day++
		rng := newRNG(seed, saltPrices, stream(pb.day))
		for i := range pb.comp {
			low := math.Inf(1)
			for k := range pb.comp[i] {
				p := pb.comp[i][k]
				switch r := rng.Float64(); {
				case r < 0.04:
					p *= 1 - 0.05 - 0.10*rng.Float64()
				case r < 0.07:
					p *= 1 + 0.03 + 0.07*rng.Float64()
				default:
					p += (pb.base[i]*1.02 - p) * 0.08
					p *= 1 + 0.006*rng.NormFloat64()
				}
				pb.comp[i][k] = cents(p)
				low = math.Min(low, p)
			}
			target := low * 1.03
			if math.Abs(pb.own[i]/target-1) > 0.02 {
				pb.own[i] = cents(pb.own[i] + (target-pb.own[i])*0.5)
			}
		}
	}
}

func cents(v float64) float64 { return math.Round(v*100) / 100 }

// poisson draws a Poisson variate: Knuth for small means, a rounded normal
// approximation above 30 (good enough for event counts, and fast).
func poisson(rng *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean > 30 {
		return max(0, int(math.Round(mean+math.Sqrt(mean)*rng.NormFloat64())))
	}
	l := math.Exp(-mean)
	k, p := 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// lognormal draws a log-normal variate with the given median.
func lognormal(rng *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*rng.NormFloat64())
}

// pick draws an index from cumulative weights.
func pick(rng *rand.Rand, cum []float64) int {
	x := rng.Float64() * cum[len(cum)-1]
	lo, hi := 0, len(cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if cum[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

func cumulative(dst, w []float64) []float64 {
	dst = dst[:0]
	var s float64
	for _, v := range w {
		s += v
		dst = append(dst, s)
	}
	return dst
}
