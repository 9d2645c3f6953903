// Package holtwinters is Holt-Winters (triple exponential smoothing) with an
// additive or a multiplicative season, the model behind the datasource's
// forecasts. It is written out here: the Go packages found were
// unmaintained or pulled in a whole query engine, and the method fits on a
// page. The smoothing parameters are fitted by minimising the one-step-ahead
// squared error over a small grid; both season forms are tried and the one
// with the smaller error is kept.
package holtwinters

import "math"

// hwGrid are the smoothing parameters tried: level α, trend β, season γ.
func hwGrid() (alphas, betas, gammas []float64) {
	return []float64{0.05, 0.1, 0.2, 0.3, 0.5}, []float64{0, 0.01, 0.05}, []float64{0.05, 0.1, 0.2, 0.3}
}

// hwEps guards the multiplicative form against dividing by a zero season or level.
const hwEps = 1e-9

// Model is a fitted model with its state after every observation, so that it
// can forecast from any past origin (the backtests of the band).
type Model struct {
	m                  int
	mult               bool
	alpha, beta, gamma float64
	sse                float64
	steps              int  // one-step errors in sse
	NonNeg             bool // every observation ≥ 0: forecasts are floored at 0
	// level[o], trend[o]: the state having seen observations 0..o-1
	// (level[0] is the initial state); season[i] is the seasonal index of
	// time i-m.
	level, trend, season []float64
}

// Fit fits y (oldest first) with season length m. ok is false
// with fewer than two whole seasons, or when no form gives a finite fit.
func Fit(y []float64, m int) (*Model, bool) {
	if m < 2 || len(y) < 2*m {
		return nil, false
	}
	nonNeg := true
	for _, v := range y {
		if v < 0 {
			nonNeg = false
		}
	}
	// Two fits' state arrays serve the whole grid: the best so far and the
	// one being tried (a cached wall screen fits on every forecast request;
	// a fresh state per candidate allocated 2 MB per fit).
	var best, spare *Model
	alphas, betas, gammas := hwGrid()
	for _, mult := range []bool{false, true} {
		if mult && !nonNeg {
			continue
		}
		l0, b0, s0, ok := hwInit(y, m, mult)
		if !ok {
			continue
		}
		for _, a := range alphas {
			for _, b := range betas {
				for _, g := range gammas {
					f := spare
					if f == nil {
						f = &Model{}
					}
					f.m, f.mult, f.alpha, f.beta, f.gamma, f.NonNeg = m, mult, a, b, g, nonNeg
					f.run(y, l0, b0, s0)
					switch {
					case math.IsNaN(f.sse) || math.IsInf(f.sse, 0):
						spare = f
					case best == nil || f.sse < best.sse:
						best, spare = f, best
					default:
						spare = f
					}
				}
			}
		}
	}
	return best, best != nil
}

// resize is s with length n, reusing its array when large enough (every
// element is written before it is read).
func resize(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// hwInit is the classic initial state: the level is the first season's
// mean, the trend the change of the season means per step from the first
// season to the last whole one, and each seasonal index the average over the
// whole seasons of the value against its season's mean.
func hwInit(y []float64, m int, mult bool) (level, trend float64, season []float64, ok bool) {
	k := len(y) / m
	means := make([]float64, k)
	for j := range k {
		for i := range m {
			means[j] += y[j*m+i]
		}
		means[j] /= float64(m)
	}
	trend = (means[k-1] - means[0]) / float64((k-1)*m)
	season = make([]float64, m)
	for i := range m {
		n := 0
		for j := range k {
			switch {
			case !mult:
				season[i] += y[j*m+i] - means[j]
				n++
			case means[j] > hwEps:
				season[i] += y[j*m+i] / means[j]
				n++
			}
		}
		if n == 0 {
			return 0, 0, nil, false
		}
		season[i] /= float64(n)
	}
	// The first season's mean sits in its middle: step back to before it.
	level = means[0] - trend*float64(m+1)/2
	if mult && level <= hwEps {
		return 0, 0, nil, false
	}
	return level, trend, season, true
}

// run smooths y from the initial state, recording the state after each
// observation and the one-step-ahead squared error after the first season.
func (f *Model) run(y []float64, l0, b0 float64, s0 []float64) {
	n, m := len(y), f.m
	f.level = resize(f.level, n+1)
	f.trend = resize(f.trend, n+1)
	f.season = resize(f.season, n+m)
	f.sse, f.steps = 0, 0
	copy(f.season, s0)
	f.level[0], f.trend[0] = l0, b0
	l, b := l0, b0
	for t, v := range y {
		s := f.season[t]
		var pred, nl float64
		if f.mult {
			pred = (l + b) * s
			nl = l + b
			if s > hwEps {
				nl = f.alpha*v/s + (1-f.alpha)*(l+b)
			}
		} else {
			pred = l + b + s
			nl = f.alpha*(v-s) + (1-f.alpha)*(l+b)
		}
		nb := f.beta*(nl-l) + (1-f.beta)*b
		switch {
		case !f.mult:
			f.season[t+m] = f.gamma*(v-nl) + (1-f.gamma)*s
		case nl > hwEps:
			f.season[t+m] = f.gamma*v/nl + (1-f.gamma)*s
		default:
			f.season[t+m] = s
		}
		if t >= m {
			f.sse += (v - pred) * (v - pred)
			f.steps++
		}
		l, b = nl, nb
		f.level[t+1], f.trend[t+1] = l, b
	}
}

// Forecast is the h-step-ahead forecast (h = 1..H) from origin o: having
// seen observations 0..o-1 only. Sums that cannot be negative are floored at 0.
func (f *Model) Forecast(o, horizon int) []float64 {
	out := make([]float64, horizon)
	l, b := f.level[o], f.trend[o]
	for h := 1; h <= horizon; h++ {
		// the newest seasonal index of the same phase known at the origin
		i := o - 1 + h
		for i > o-1+f.m {
			i -= f.m
		}
		s := f.season[i]
		v := l + float64(h)*b + s
		if f.mult {
			v = (l + float64(h)*b) * s
		}
		if f.NonNeg && v < 0 {
			v = 0
		}
		out[h-1] = v
	}
	return out
}

// RMSE is the root mean square of the one-step-ahead errors of the fit.
func (f *Model) RMSE() float64 {
	if f.steps == 0 {
		return 0
	}
	return math.Sqrt(f.sse / float64(f.steps))
}
