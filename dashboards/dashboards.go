package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ProvisionedPath is where Grafana reads the dashboard files (the file
// provider of provisioning/dashboards/storepulse.yaml; docker-compose mounts
// this directory there).
const ProvisionedPath = "/var/lib/grafana/dashboards/storepulse"

// File is one generated dashboard.
type File struct {
	UID  string
	Name string // file name in this directory: <uid>.json
	JSON []byte // indented, with a final newline
}

// All builds every dashboard, in a fixed order.
func All() ([]File, error) {
	g := newGen()
	builders := []*dashboardBuilder{g.wall(), g.drilldown(), g.campaigns(), g.service(), g.market()}
	var out []File
	for _, b := range builders {
		d, err := b.Build()
		if err != nil {
			return nil, fmt.Errorf("dashboards: build: %w", err)
		}
		numberPanels(&d)
		defaultPlacement(&d)
		raw, err := json.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("dashboards: %s: %w", *d.Uid, err)
		}
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return nil, fmt.Errorf("dashboards: %s: %w", *d.Uid, err)
		}
		buf.WriteByte('\n')
		out = append(out, File{UID: *d.Uid, Name: *d.Uid + ".json", JSON: buf.Bytes()})
	}
	if len(g.errs) > 0 {
		return nil, errors.Join(g.errs...)
	}
	return out, nil
}

// numberPanels gives every panel a unique id in layout order (Grafana needs
// them for links to a panel and for the panel editor).
func numberPanels(d *classicDashboard) {
	id := uint32(1)
	for i := range d.Panels {
		if p := d.Panels[i].Panel; p != nil {
			p.Id = ptr(id)
			id++
		}
	}
}

// defaultPlacement drops the SDK's default placement "inControlsMenu" of
// dashboard links and annotation toggles: they belong above the panels,
// where Grafana puts them without a placement.
func defaultPlacement(d *classicDashboard) {
	for i := range d.Links {
		d.Links[i].Placement = nil
	}
	for i := range d.Annotations.List {
		d.Annotations.List[i].Placement = nil
	}
}
