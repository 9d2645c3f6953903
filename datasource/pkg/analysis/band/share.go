package band

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// ShareEvidence is the tail probability (ShareTail) below which one bucket
// of a share holds the events to be flagged without a neighbour: one paid
// order of 7 where 95 % are paid (5·10⁻⁸) is a payment outage; one unpaid
// order of 2 where 93 % are paid (0.14) is not, nor are 3 of 3 unpaid
// (3·10⁻⁴): a store of a few hundred orders a day sees that every few
// months.
const ShareEvidence = 1e-4

// ShareEdge bounds the expected share ShareTail judges against: at most
// 95 % for a fall, at least 5 % for a rise. The expected share is the
// median of past buckets' shares, and an hour of few orders, all of them
// paid in every past week, has a median of 100 % but a payment rate below
// it: taken as 100 %, one unpaid order would be impossible.
const ShareEdge = 0.05

// shareTiny keeps p inside (0, 1) on the side ShareEdge leaves open.
const shareTiny = 1e-9

// ShareTail is how likely a share at least as far from the expected share p
// as v is, on v's side, when each of n items counts with probability p
// (binomial, p bounded by ShareEdge): P(X ≤ v·n) below p, P(X ≥ v·n)
// above. level is the series' noise level (per-item variance, NoiseLevel):
// where the shares vary more than a binomial's p·(1 − p) — paid orders
// count by payment time, so an order placed at 13:59 is paid in the next
// hour — n is shrunk by that factor (quasi-binomial; 0: none). 1 when there
// is nothing to judge (n < 1).
func ShareTail(v, p, n, level float64) float64 {
	if n < 1 || math.IsNaN(v) || math.IsNaN(p) {
		return 1
	}
	// p may lie outside (0, 1): payment conversion exceeds 1 when orders
	// placed before a bucket are paid in it
	fall := v < p
	if fall {
		p = math.Max(math.Min(p, 1-ShareEdge), shareTiny)
	} else {
		p = math.Min(math.Max(p, ShareEdge), 1-shareTiny)
	}
	n /= math.Max(1, level/(p*(1-p)))
	x := math.Min(math.Max(v*n, 0), n)
	if fall {
		return distuv.Binomial{N: n, P: p}.CDF(x)
	}
	// P(X ≥ x) as the lower tail of the misses, exact for small tails
	return distuv.Binomial{N: n, P: 1 - p}.CDF(n - x)
}
