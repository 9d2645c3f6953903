package holtwinters

import (
	"math"
	"testing"
)

// BenchmarkFitHoltWinters is the forecast's fit of a day horizon: four weeks
// of hours with a daily season. A cached wall screen fits it on every
// request of its two forecast panels.
func BenchmarkFitHoltWinters(b *testing.B) {
	y := make([]float64, 28*24)
	for i := range y {
		y[i] = 1000 + 400*math.Sin(2*math.Pi*float64(i%24)/24) + float64(i%7)*10
	}
	b.ReportAllocs()
	for range b.N {
		if _, ok := Fit(y, 24); !ok {
			b.Fatal("no fit")
		}
	}
}
