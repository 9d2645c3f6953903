import React, { useEffect, useMemo, useState } from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { Alert, InlineField, InlineFieldRow, MultiSelect, Select } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { KpiDataSourceOptions, KpiInfo, KpiQuery, QueryType } from '../types';
import { filtersOutside, TYPE_FILTER_DIMENSIONS, validateQuery } from '../validate';
import { AnomalyFields } from './AnomalyFields';
import { DimensionFilters, variableOptions } from './DimensionFilters';
import { kpiOptions, switchQueryType } from './QueryEditor';

type Props = QueryEditorProps<DataSource, KpiQuery, KpiDataSourceOptions>;

const TYPES: Array<SelectableValue<string>> = [
  { label: 'Campaigns', value: QueryType.Campaigns, description: 'campaign phases from the calendar, as regions' },
  { label: 'Detected anomalies', value: QueryType.Anomalies, description: 'runs of buckets where a KPI left its expected band' },
];

/** The dimensions the campaigns query type filters by (campaigns without stores run in every store). */
const CAMPAIGN_FILTERS = TYPE_FILTER_DIMENSIONS[QueryType.Campaigns];

/**
 * Annotations: campaign phases (optionally per store or campaign) or the anomalies detected on a KPI, with the
 * detection's sensitivity and history; grouped by store, each region names its store.
 */
export function AnnotationQueryEditor({ query, onChange, datasource, range }: Props) {
  const type = query.queryType === QueryType.Anomalies ? QueryType.Anomalies : QueryType.Campaigns;
  const [kpis, setKpis] = useState<KpiInfo[]>([]);

  useEffect(() => {
    if (type !== QueryType.Anomalies) {
      return;
    }
    let live = true;
    datasource.getKpis().then(
      (k) => live && setKpis(k),
      () => undefined // the KPI stays a free text field without the catalog
    );
    return () => {
      live = false;
    };
  }, [datasource, type]);

  const kpi = useMemo(() => kpis.find((k) => k.id === query.kpi), [kpis, query.kpi]);
  // a filter the type does not take stays visible so that it can be cleared (earlier versions offered channel)
  const dims =
    type === QueryType.Anomalies ? (kpi?.dimensions ?? ['store', 'channel']) : [...CAMPAIGN_FILTERS, ...filtersOutside(query, CAMPAIGN_FILTERS)];
  const problems = validateQuery({ ...query, queryType: type }, kpi);
  const kpiChoices: Array<SelectableValue<string>> = kpis.length
    ? kpiOptions(kpis.filter((k) => k.kind !== 'transform'))
    : query.kpi
      ? [{ label: query.kpi, value: query.kpi }]
      : [];

  return (
    <>
      <InlineField label="Show" labelWidth={14}>
        <Select<string>
          inputId="annotation-type"
          aria-label="Annotation type"
          width={30}
          options={TYPES}
          value={type}
          onChange={(v) => onChange(switchQueryType(query, v.value!))}
        />
      </InlineField>
      {type === QueryType.Anomalies && (
        <>
          <InlineFieldRow>
            <InlineField label="KPI" labelWidth={14} tooltip="The KPI whose anomalies to show, e.g. GMV or conversion rate">
              <Select<string>
                inputId="annotation-kpi"
                aria-label="Annotation KPI"
                width={30}
                allowCustomValue
                isSearchable
                options={[...kpiChoices, ...variableOptions()]}
                value={query.kpi || null}
                onChange={(v) => onChange({ ...query, kpi: v.value ?? '' })}
              />
            </InlineField>
            <InlineField label="Group by" labelWidth={10} tooltip="Detect per value (e.g. per store: each region names its store)">
              <MultiSelect<string>
                inputId="annotation-group-by"
                aria-label="Annotation group by"
                width={30}
                placeholder="whole business"
                options={[...dims.map((d) => ({ label: d, value: d })), ...variableOptions()]}
                value={query.groupBy ?? []}
                onChange={(sel: Array<SelectableValue<string>>) => {
                  const g = sel.map((s) => s.value!).filter(Boolean);
                  onChange({ ...query, groupBy: g.length ? g : undefined });
                }}
              />
            </InlineField>
          </InlineFieldRow>
          <InlineFieldRow>
            <AnomalyFields anomaly={query.anomaly} labelWidth={14} onChange={(anomaly) => onChange({ ...query, anomaly })} />
          </InlineFieldRow>
        </>
      )}
      <DimensionFilters
        datasource={datasource}
        dimensions={dims}
        filters={query.filters ?? {}}
        range={range}
        onChange={(filters) => onChange({ ...query, filters })}
      />
      {problems.length > 0 && (
        <Alert severity="warning" title="These annotations cannot be shown as they are" data-testid="annotation-problems">
          {problems.join(' ')}
        </Alert>
      )}
    </>
  );
}
