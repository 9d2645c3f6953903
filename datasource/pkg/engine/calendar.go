package engine

import (
	"slices"
	"strings"

	"github.com/storepulse/storepulse/internal/calendar"
)

// SortCampaigns orders campaigns by start, then id.
func SortCampaigns(cs []calendar.Campaign) {
	slices.SortStableFunc(cs, func(a, b calendar.Campaign) int {
		if c := a.Start().Compare(b.Start()); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
