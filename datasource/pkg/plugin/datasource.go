// Package plugin is the Grafana datasource: one file per handler (query.go,
// health.go, resources.go), frames.go shapes results; the domain logic lives
// in package engine and the wire types in package models.
package plugin

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/engine/flux"
	"github.com/storepulse/storepulse/datasource/pkg/engine/influxql"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/digest/briefing"
	iql "github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/kpi"
)

// PluginID is the plugin's id (plugin.json).
const PluginID = "storepulse-kpi-datasource"

// maxConcurrentQueries bounds the queries of one request run at once.
const maxConcurrentQueries = 4

// Datasource is one configured datasource instance.
type Datasource struct {
	settings  models.Settings
	catalog   *kpi.Catalog
	engine    *engine.Engine
	source    engine.Source
	influx    influxdb2.Client // Flux; nil with InfluxQL or an injected source
	ql        *iql.Client      // InfluxQL; nil with Flux or an injected source
	logger    log.Logger
	now       func() time.Time
	resources backend.CallResourceHandler
	memory    *memBudget     // the estimated memory of this datasource's queries running (budget.go)
	process   *ProcessMemory // the same, of every datasource of the plugin process

	zoneMu sync.Mutex // guards zone
	zone   zoneState  // the store time zone last read (zone.go)

	playbookOnce sync.Once          // reads pb once (insights.go)
	pb           *briefing.Playbook // the briefing's default playbook
	pbErr        error
}

var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// NewFactory returns the instance factory, with the logger and the clock
// injected (nil now = the wall clock).
func NewFactory(logger log.Logger, now func() time.Time, mem *ProcessMemory) datasource.InstanceFactoryFunc {
	if now == nil {
		now = time.Now
	}
	if mem == nil {
		mem = NewProcessMemory(DefaultProcessMemoryMB)
	}
	return func(ctx context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
		d, err := New(ctx, s, logger, now)
		if err != nil {
			return nil, err
		}
		d.process = mem
		return d, nil
	}
}

// New builds an instance reading InfluxDB through the SDK's HTTP client,
// with InfluxQL (the default) or Flux (settings.QueryLanguage).
func New(ctx context.Context, s backend.DataSourceInstanceSettings, logger log.Logger, now func() time.Time) (*Datasource, error) {
	settings, err := models.LoadSettings(s.URL, s.JSONData, s.DecryptedSecureJSONData)
	if err != nil {
		return nil, backend.PluginError(fmt.Errorf("datasource settings: %w", err))
	}
	opts, err := s.HTTPClientOptions(ctx)
	if err != nil {
		return nil, backend.PluginError(fmt.Errorf("HTTP client options: %w", err))
	}
	hc, err := httpclient.New(opts)
	if err != nil {
		return nil, backend.PluginError(fmt.Errorf("HTTP client: %w", err))
	}
	if settings.QueryLanguage == models.QueryFlux {
		client := influxdb2.NewClientWithOptions(settings.URL, settings.Token, influxdb2.DefaultOptions().SetHTTPClient(hc))
		org := orgOf(settings.Org, settings.Version)
		src := &flux.Source{QueryAPI: func() api.QueryAPI { return client.QueryAPI(org) }, Bucket: settings.Bucket}
		d := newDatasource(settings, src, logger, now)
		d.influx = client
		return d, nil
	}
	src, err := influxql.New(settings.URL, settings.Token, settings.Bucket, hc)
	if err != nil {
		return nil, backend.PluginError(fmt.Errorf("datasource settings: %w", err))
	}
	d := newDatasource(settings, src, logger, now)
	d.ql = src.Client
	return d, nil
}

// newDatasource wires an instance around a source (tests inject one).
func newDatasource(settings models.Settings, src engine.Source, logger log.Logger, now func() time.Time) *Datasource {
	if settings.CacheTTL > 0 {
		src = engine.NewCachingSource(src, settings.CacheTTL, now)
	}
	d := &Datasource{settings: settings, catalog: kpi.Default(), source: src, logger: logger, now: now,
		memory:  &memBudget{limit: settings.DatasourceMemoryBytes()},
		process: NewProcessMemory(DefaultProcessMemoryMB)}
	d.engine = &engine.Engine{Catalog: d.catalog, Source: src, Location: settings.Location,
		SeriesLimit: settings.SeriesLimit, Now: now, Holidays: settings.Holidays, HolidayMarkets: settings.HolidayMarkets}
	d.resources = httpadapter.New(d.routes())
	return d
}

// Dispose releases the InfluxDB client when Grafana replaces the instance.
func (d *Datasource) Dispose() {
	if d.influx != nil {
		d.influx.Close()
	}
}
