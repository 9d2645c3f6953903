package models

import (
	"fmt"
	"sort"
)

// InsightsStore checks the options of a QueryTypeInsights query and returns
// its store filter: "" (the whole business) or one store. Insights filter by
// store only; the sensitivity is Anomaly's (default medium, k = 3).
func (q Query) InsightsStore() (string, error) {
	var other []string
	for dim := range q.Filters {
		if dim != "store" {
			other = append(other, dim)
		}
	}
	if len(other) > 0 {
		sort.Strings(other)
		return "", fmt.Errorf("insights filter by store only, not by %v: remove those filters", other)
	}
	stores := q.Filters["store"]
	switch {
	case len(stores) > 1:
		return "", fmt.Errorf("insights take one store or all of them, got %d stores (%v): choose one, or All", len(stores), stores)
	case len(stores) == 1:
		return stores[0], nil
	}
	return "", nil
}
