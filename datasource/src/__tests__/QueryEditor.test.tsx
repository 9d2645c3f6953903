import React from 'react';
import { render, screen, waitFor, within, fireEvent } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { TimeRange } from '@grafana/data';
import { setTemplateSrv } from '@grafana/runtime';

import { QueryEditor } from '../components/QueryEditor';
import { DataSource } from '../datasource';
import { fakeTemplateSrv } from '../fakeTemplateSrv';
import { DIMENSION_VALUES, instanceSettings, KPIS, quarter, range } from '../testdata';
import { KpiQuery } from '../types';

const templateSrv = fakeTemplateSrv([{ name: 'store', current: ['tmall-01', 'jd-02'], options: DIMENSION_VALUES.store }]);
setTemplateSrv(templateSrv);

/** A datasource whose backend resources are mocked: /kpis and /dimensions. */
function mockDatasource() {
  const ds = new DataSource(instanceSettings, templateSrv);
  const getResource = jest.spyOn(ds, 'getResource').mockImplementation(async (path: string, params?: any) => {
    if (path === 'kpis') {
      return { kpis: KPIS };
    }
    if (path === 'dimensions') {
      return { dimension: params.dim, values: DIMENSION_VALUES[params.dim] ?? [] };
    }
    throw new Error('unexpected resource ' + path);
  });
  return { ds, getResource };
}

function setup(query: Partial<KpiQuery>, r: TimeRange = range) {
  const { ds, getResource } = mockDatasource();
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  const q = { refId: 'A', ...query } as KpiQuery;
  const utils = render(<QueryEditor datasource={ds} query={q} onChange={onChange} onRunQuery={onRunQuery} range={r} />);
  return { ...utils, ds, getResource, onChange, onRunQuery, q };
}

const lastQuery = (onChange: jest.Mock): KpiQuery => onChange.mock.calls[onChange.mock.calls.length - 1][0];

async function pick(input: HTMLElement, optionText: string | RegExp) {
  await userEvent.click(input);
  const option = await screen.findByText(optionText, { selector: '[role="option"] *, [role="option"]' });
  await userEvent.click(option);
}

describe('QueryEditor', () => {
  it('turns a new query into GMV compared with last week', async () => {
    const { onChange } = setup({});
    await waitFor(() => expect(onChange).toHaveBeenCalled());
    expect(lastQuery(onChange)).toMatchObject({ refId: 'A', kpi: 'gmv', compare: '1w', compareOutputs: ['series'], version: 1, queryType: 'kpi' });
  });

  it('loads the catalog from /kpis and shows the KPI description, unit and formula', async () => {
    const { getResource } = setup({ kpi: 'aov' });
    const info = await screen.findByTestId('kpi-info');
    expect(getResource).toHaveBeenCalledWith('kpis');
    expect(info).toHaveTextContent('Average order value: GMV / orders.');
    expect(info).toHaveTextContent('sum(gmv) / sum(orders)');
    expect(info).toHaveTextContent('currency:CNY');
    expect(info).toHaveTextContent('store, channel, category, campaign');
  });

  it('offers the KPIs grouped by area, searchable, and runs the picked one', async () => {
    const { onChange, onRunQuery } = setup({ kpi: 'gmv', compare: '1w' });
    await screen.findByTestId('kpi-info');
    const input = screen.getByLabelText('KPI');
    await userEvent.click(input);
    expect(await screen.findByText('marketing')).toBeInTheDocument();
    expect(screen.getByText('users')).toBeInTheDocument();
    await userEvent.type(input, 'ct');
    expect(screen.queryByText('AOV')).not.toBeInTheDocument();
    await userEvent.click(screen.getByText('CTR'));
    expect(lastQuery(onChange)).toMatchObject({ kpi: 'ctr', compare: '1w' });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('loads filter values from /dimensions with the range, offers variables, and sets the filter', async () => {
    const { onChange, getResource } = setup({ kpi: 'gmv' });
    await screen.findByTestId('kpi-info');
    // only the KPI's dimensions get a filter
    expect(screen.queryByLabelText('Filter creative')).not.toBeInTheDocument();
    await pick(screen.getByLabelText('Filter store'), 'jd-02');
    expect(getResource).toHaveBeenCalledWith('dimensions', {
      dim: 'store',
      from: '2025-06-18T00:00:00.000Z',
      to: '2025-06-19T00:00:00.000Z',
    });
    expect(lastQuery(onChange).filters).toEqual({ store: ['jd-02'] });
  });

  it('offers template variables as filter values', async () => {
    const { onChange } = setup({ kpi: 'gmv', filters: { store: ['jd-02'] } });
    await screen.findByTestId('kpi-info');
    await pick(screen.getByLabelText('Filter store'), '$store');
    expect(lastQuery(onChange).filters).toEqual({ store: ['jd-02', '$store'] });
  });

  it('sets group by, interval, compare and its outputs', async () => {
    const { onChange, rerender, ds, onRunQuery } = setup({ kpi: 'gmv' });
    await screen.findByTestId('kpi-info');
    await pick(screen.getByLabelText('Group by'), 'channel');
    expect(lastQuery(onChange).groupBy).toEqual(['channel']);
    await pick(screen.getByLabelText('Interval'), 'day');
    expect(lastQuery(onChange).interval).toBe('day');
    await pick(screen.getByLabelText('Compare'), 'Last year (1y)');
    expect(lastQuery(onChange)).toMatchObject({ compare: '1y', compareOutputs: ['series'] });

    rerender(<QueryEditor datasource={ds} query={{ refId: 'A', kpi: 'gmv', compare: '1y', compareOutputs: ['series'] }} onChange={onChange} onRunQuery={onRunQuery} range={range} />);
    await pick(screen.getByLabelText('Compare outputs'), 'change');
    expect(lastQuery(onChange).compareOutputs).toEqual(['series', 'change']);
    await pick(screen.getByLabelText('Compare'), 'No comparison');
    expect(lastQuery(onChange).compare).toBeUndefined();
    expect(lastQuery(onChange).compareOutputs).toBeUndefined();
  });

  it('offers quarter, year and the whole range as one value', async () => {
    const { onChange } = setup({ kpi: 'active_users' });
    await pick(screen.getByLabelText('Interval'), 'year');
    expect(lastQuery(onChange).interval).toBe('year');
    await pick(screen.getByLabelText('Interval'), 'whole range (one value)');
    expect(lastQuery(onChange).interval).toBe('range');
  });

  it('writes the legend on blur', async () => {
    const { onChange } = setup({ kpi: 'gmv' });
    const input = screen.getByLabelText('Legend');
    fireEvent.change(input, { target: { value: ' GMV {{store}} ' } });
    fireEvent.blur(input);
    expect(lastQuery(onChange).alias).toBe('GMV {{store}}');
  });

  it('produces the documented JSON for cumulative, target, anomaly, forecast, top N, contribution, funnel', async () => {
    const { onChange } = setup({ kpi: 'gmv', compare: '1w' });
    await screen.findByTestId('kpi-info');
    await pick(screen.getByLabelText('Cumulative'), 'Month to date');
    expect(lastQuery(onChange).cumulative).toBe('mtd');
    await userEvent.click(screen.getByLabelText('Target'));
    expect(lastQuery(onChange).target).toBe(true);
    await userEvent.click(screen.getByLabelText('Funnel'));
    expect(lastQuery(onChange).funnel).toBe(true);
    await userEvent.click(screen.getByLabelText('Anomaly'));
    expect(lastQuery(onChange).anomaly).toEqual({});
    await pick(screen.getByLabelText('Forecast'), 'End of month');
    expect(lastQuery(onChange).forecast).toEqual({ horizon: 'month' });
    const n = screen.getByLabelText('Top N count');
    await userEvent.type(n, '5');
    fireEvent.blur(n);
    expect(lastQuery(onChange).topN).toEqual({ n: 5, by: 'store' });
    await pick(screen.getByLabelText('Contribution'), 'category');
    expect(lastQuery(onChange).contribution).toEqual({ dimension: 'category' });
  });

  it('sets the anomaly sensitivity', async () => {
    const { onChange } = setup({ kpi: 'gmv', anomaly: { sensitivity: 3 } });
    const s = screen.getByLabelText('Anomaly sensitivity');
    await userEvent.clear(s);
    await userEvent.type(s, '2.5');
    fireEvent.blur(s);
    expect(lastQuery(onChange).anomaly).toEqual({ sensitivity: 2.5 });
    // the backend computes anomalies: nothing is announced as planned any more
    expect(screen.queryByTestId('query-planned')).not.toBeInTheDocument();
  });

  it('explains invalid combinations and does not run them', async () => {
    const { onRunQuery, rerender, ds, onChange } = setup({ kpi: 'stickiness', interval: '1h', groupBy: ['campaign'] });
    const problems = await screen.findByTestId('query-problems');
    expect(problems).toHaveTextContent('Stickiness needs an interval of at least a day');
    expect(problems).toHaveTextContent('Stickiness cannot be grouped by campaign');

    rerender(<QueryEditor datasource={ds} query={{ refId: 'A', kpi: 'aov', cumulative: 'running', contribution: { dimension: 'store' } }} onChange={onChange} onRunQuery={onRunQuery} range={range} />);
    await waitFor(() => expect(screen.getByTestId('query-problems')).toHaveTextContent('A running total of AOV means nothing'));
    const p = screen.getByTestId('query-problems');
    expect(p).toHaveTextContent('Contribution explains a change: choose a comparison period');
    expect(p).toHaveTextContent('cumulative and contribution cannot be combined');

    // a change that leaves the query invalid is not run
    await userEvent.click(screen.getByLabelText('Target'));
    expect(onRunQuery).not.toHaveBeenCalled();
  });

  it('shows no problem for a valid query', async () => {
    setup({ kpi: 'gmv', compare: '1w', groupBy: ['store'], topN: { n: 3, by: 'store' } });
    await screen.findByTestId('kpi-info');
    expect(screen.queryByTestId('query-problems')).not.toBeInTheDocument();
    expect(within(document.body).queryByTestId('query-planned')).not.toBeInTheDocument();
  });
});

describe('QueryEditor query types', () => {
  const radio = (name: string) => screen.getByRole('radio', { name });

  it('offers the six query types, KPI series selected by default', async () => {
    setup({ kpi: 'gmv' });
    await screen.findByTestId('kpi-info');
    expect(screen.getByRole('radiogroup', { name: 'Query type' })).toBeInTheDocument();
    for (const name of ['KPI series', 'Insights', 'Freshness per store', 'Campaign calendar (state timeline)', 'Campaign annotations', 'Anomaly annotations']) {
      expect(radio(name)).toBeInTheDocument();
    }
    expect(radio('KPI series')).toBeChecked();
  });

  it('switches to freshness: only the store filter is kept, KPI series fields are dropped, and it runs', async () => {
    const { onChange, onRunQuery } = setup({
      kpi: 'gmv',
      compare: '1w',
      compareOutputs: ['series'],
      target: true,
      groupBy: ['store'],
      interval: '1h',
      filters: { store: ['jd-02'], channel: ['app'] },
    });
    await screen.findByTestId('kpi-info');
    await userEvent.click(radio('Freshness per store'));
    expect(lastQuery(onChange)).toEqual({ refId: 'A', queryType: 'freshness', kpi: '', filters: { store: ['jd-02'] } });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('switches to insights: only the store filter is kept, KPI series fields and the interval are dropped, and it runs', async () => {
    const { onChange, onRunQuery } = setup({
      kpi: 'gmv',
      compare: '1w',
      compareOutputs: ['series'],
      groupBy: ['store'],
      interval: 'day',
      filters: { store: ['jd-02'], channel: ['app'] },
    });
    await screen.findByTestId('kpi-info');
    await userEvent.click(radio('Insights'));
    expect(lastQuery(onChange)).toEqual({ refId: 'A', queryType: 'insights', kpi: '', filters: { store: ['jd-02'] } });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('shows only the store filter for insights and explains the table', async () => {
    const { onChange } = setup({ queryType: 'insights', kpi: '' });
    expect(await screen.findByTestId('type-info')).toHaveTextContent('moved beyond its normal range');
    expect(screen.getByTestId('type-info')).toHaveTextContent('nothing unusual');
    for (const label of ['KPI', 'Legend', 'Filter channel', 'Group by', 'Interval', 'Compare', 'Anomaly sensitivity']) {
      expect(screen.queryByLabelText(label)).not.toBeInTheDocument();
    }
    await pick(screen.getByLabelText('Filter store'), 'shop-03');
    expect(lastQuery(onChange)).toMatchObject({ queryType: 'insights', filters: { store: ['shop-03'] } });
  });

  it('shows only the store filter and the legend for freshness', async () => {
    setup({ queryType: 'freshness', kpi: '' });
    expect(await screen.findByTestId('type-info')).toHaveTextContent('age in seconds of its newest data');
    expect(screen.getByLabelText('Filter store')).toBeInTheDocument();
    expect(screen.getByLabelText('Legend')).toBeInTheDocument();
    for (const label of ['KPI', 'Filter channel', 'Group by', 'Interval', 'Compare', 'Target', 'Anomaly sensitivity']) {
      expect(screen.queryByLabelText(label)).not.toBeInTheDocument();
    }
  });

  it.each([
    ['calendar', 'state timeline'],
    ['campaigns', 'One region per campaign phase'],
  ])('shows the store and campaign filters for %s', async (queryType, info) => {
    const { onChange } = setup({ queryType, kpi: '' });
    expect(await screen.findByTestId('type-info')).toHaveTextContent(info);
    expect(screen.getByLabelText('Filter campaign')).toBeInTheDocument();
    for (const label of ['KPI', 'Legend', 'Filter channel', 'Group by', 'Compare', 'Anomaly sensitivity']) {
      expect(screen.queryByLabelText(label)).not.toBeInTheDocument();
    }
    await pick(screen.getByLabelText('Filter store'), 'shop-03');
    expect(lastQuery(onChange)).toMatchObject({ queryType, filters: { store: ['shop-03'] } });
    // no default KPI query is forced onto these types
    expect(onChange.mock.calls.every(([q]) => q.queryType === queryType)).toBe(true);
  });

  it('switches to the campaign calendar keeping store and campaign filters', async () => {
    const { onChange } = setup({ kpi: 'gmv', filters: { store: ['jd-02'], campaign: ['d11'], channel: ['app'] }, anomaly: {} });
    await screen.findByTestId('kpi-info');
    await userEvent.click(radio('Campaign calendar (state timeline)'));
    expect(lastQuery(onChange)).toEqual({ refId: 'A', queryType: 'calendar', kpi: '', filters: { store: ['jd-02'], campaign: ['d11'] } });
  });

  it('shows the KPI, group by, interval and anomaly settings for anomaly annotations, without compare or transforms', async () => {
    const { onChange } = setup({ queryType: 'anomalies', kpi: 'gmv', groupBy: ['store'] });
    await screen.findByTestId('kpi-info');
    expect(screen.getByTestId('type-info')).toHaveTextContent('Interval auto means 1h here');
    for (const label of ['KPI', 'Group by', 'Interval', 'Anomaly sensitivity', 'Anomaly weeks']) {
      expect(screen.getByLabelText(label)).toBeInTheDocument();
    }
    for (const label of ['Compare', 'Target', 'Legend', 'Forecast', 'Lifecycle', 'Uplift']) {
      expect(screen.queryByLabelText(label)).not.toBeInTheDocument();
    }
    await userEvent.click(radio('High'));
    expect(lastQuery(onChange)).toMatchObject({ queryType: 'anomalies', kpi: 'gmv', anomaly: { sensitivity: 'high' } });
  });

  it('switches from KPI series to anomaly annotations keeping the KPI, filters, group by and anomaly settings', async () => {
    const { onChange } = setup({ kpi: 'gmv', groupBy: ['store'], filters: { channel: ['app'] }, anomaly: { weeks: 8 }, compare: '1w', compareOutputs: ['series'] });
    await screen.findByTestId('kpi-info');
    await userEvent.click(radio('Anomaly annotations'));
    expect(lastQuery(onChange)).toEqual({ refId: 'A', queryType: 'anomalies', kpi: 'gmv', groupBy: ['store'], filters: { channel: ['app'] }, anomaly: { weeks: 8 } });
  });

  it('switches back to KPI series with GMV when no KPI was set', async () => {
    const { onChange } = setup({ queryType: 'freshness', kpi: '' });
    await userEvent.click(radio('KPI series'));
    expect(lastQuery(onChange)).toMatchObject({ queryType: 'kpi', kpi: 'gmv' });
  });
});

describe('QueryEditor new controls', () => {
  it('compares with the same campaign last year and explains it', async () => {
    const { onChange, rerender, ds, onRunQuery } = setup({ kpi: 'gmv' });
    await screen.findByTestId('kpi-info');
    await pick(screen.getByLabelText('Compare'), 'Same campaign last year');
    expect(lastQuery(onChange)).toMatchObject({ compare: 'campaign', compareOutputs: ['series'] });
    expect(onRunQuery).toHaveBeenCalled();
    rerender(<QueryEditor datasource={ds} query={lastQuery(onChange)} onChange={onChange} onRunQuery={onRunQuery} range={range} />);
    expect(screen.getByTestId('query-hints')).toHaveTextContent("matched to last year's campaign of the same kind");
    expect(screen.queryByTestId('query-problems')).not.toBeInTheDocument();
  });

  it('offers a template variable as the comparison', async () => {
    const { onChange } = setup({ kpi: 'gmv' });
    await screen.findByTestId('kpi-info');
    await pick(screen.getByLabelText('Compare'), '$store');
    expect(lastQuery(onChange).compare).toBe('$store');
  });

  it('turns the life-cycle transform on and off', async () => {
    const { onChange, rerender, ds, onRunQuery } = setup({ kpi: 'gmv', groupBy: ['category'] }, quarter);
    await screen.findByTestId('kpi-info');
    await userEvent.click(screen.getByLabelText('Lifecycle'));
    expect(lastQuery(onChange)).toMatchObject({ kpi: 'gmv', lifecycle: true, groupBy: ['category'] });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    rerender(<QueryEditor datasource={ds} query={lastQuery(onChange)} onChange={onChange} onRunQuery={onRunQuery} range={quarter} />);
    expect(screen.getByTestId('query-hints')).toHaveTextContent('one table row per category with its stage');
    await userEvent.click(screen.getByLabelText('Lifecycle'));
    expect(lastQuery(onChange).lifecycle).toBeUndefined();
  });

  it('turns uplift on with the default baseline and sets the baseline days', async () => {
    const { onChange, rerender, ds, onRunQuery } = setup({ kpi: 'gmv' });
    await screen.findByTestId('kpi-info');
    expect(screen.getByLabelText('Uplift baseline days')).toHaveAttribute('placeholder', '28');
    await userEvent.click(screen.getByLabelText('Uplift'));
    expect(lastQuery(onChange).uplift).toEqual({});
    rerender(<QueryEditor datasource={ds} query={lastQuery(onChange)} onChange={onChange} onRunQuery={onRunQuery} range={range} />);
    const days = screen.getByLabelText('Uplift baseline days');
    await userEvent.type(days, '14');
    fireEvent.blur(days);
    expect(lastQuery(onChange).uplift).toEqual({ baselineDays: 14 });
    rerender(<QueryEditor datasource={ds} query={lastQuery(onChange)} onChange={onChange} onRunQuery={onRunQuery} range={range} />);
    expect(screen.getByTestId('query-hints')).toHaveTextContent('the GMV per day during it against the 14 days before its start');
    await userEvent.clear(screen.getByLabelText('Uplift baseline days'));
    fireEvent.blur(screen.getByLabelText('Uplift baseline days'));
    expect(lastQuery(onChange).uplift).toEqual({});
  });

  it('sets the anomaly sensitivity as low, medium, high or a number, and the weeks', async () => {
    const { onChange, rerender, ds, onRunQuery } = setup({ kpi: 'gmv', anomaly: {} });
    await screen.findByTestId('kpi-info');
    // The group's accessible name: its aria-label on Grafana 12.4; from 13.2 on, @grafana/ui's InlineField
    // labels its control (aria-labelledby), so the field's label "Sensitivity" wins.
    const level = screen.getByRole('radiogroup', { name: /^(Anomaly sensitivity level|Sensitivity)$/ });
    expect(within(level).getByRole('radio', { name: 'Medium' })).toBeChecked();
    expect(screen.getByLabelText('Anomaly sensitivity')).toHaveValue(3);
    await userEvent.click(within(level).getByRole('radio', { name: 'Low' }));
    expect(lastQuery(onChange).anomaly).toEqual({ sensitivity: 'low' });

    rerender(<QueryEditor datasource={ds} query={{ refId: 'A', kpi: 'gmv', anomaly: { sensitivity: 'high' } }} onChange={onChange} onRunQuery={onRunQuery} range={range} />);
    expect(screen.getByLabelText('Anomaly sensitivity')).toHaveValue(2);
    await userEvent.click(screen.getByRole('radio', { name: 'Number' }));
    expect(lastQuery(onChange).anomaly).toEqual({ sensitivity: 2 });

    const weeks = screen.getByLabelText('Anomaly weeks');
    expect(weeks).toHaveAttribute('placeholder', '6');
    await userEvent.type(weeks, '8');
    fireEvent.blur(weeks);
    expect(lastQuery(onChange).anomaly).toEqual({ sensitivity: 'high', weeks: 8 });
  });

  it.each<[string, string, (el: HTMLElement) => Promise<void>, Partial<KpiQuery>]>([
    ['Anomaly', 'anomaly', (el) => userEvent.click(el), { anomaly: {} }],
    ['Lifecycle', 'lifecycle', (el) => userEvent.click(el), { lifecycle: true }],
    ['Uplift', 'uplift', (el) => userEvent.click(el), { uplift: {} }],
    ['Forecast', 'a forecast', (el) => pick(el, 'End of day'), { forecast: { horizon: 'day' } }],
    ['KPI', 'the life-cycle stage KPI', (el) => pick(el, 'Life-cycle stage'), { kpi: 'lifecycle_stage' }],
  ])('turns Compare off when %s turns on %s (the backend refuses the combination)', async (label, _, act, expected) => {
    const { onChange } = setup({ kpi: 'gmv', compare: '1w', compareOutputs: ['series'] });
    await screen.findByTestId('kpi-info');
    await act(screen.getByLabelText(label));
    expect(lastQuery(onChange)).toMatchObject(expected);
    expect(lastQuery(onChange).compare).toBeUndefined();
    expect(lastQuery(onChange).compareOutputs).toBeUndefined();
  });

  it('sets Flag only for KPI series (alert rules) and drops it when switching to anomaly annotations', async () => {
    const { onChange, rerender, ds, onRunQuery } = setup({ kpi: 'gmv', groupBy: ['store'], anomaly: { weeks: 4 } });
    await screen.findByTestId('kpi-info');
    const flagOnly = screen.getByLabelText('Anomaly flag only');
    expect(flagOnly).not.toBeChecked();
    await userEvent.click(flagOnly);
    expect(lastQuery(onChange).anomaly).toEqual({ weeks: 4, flagOnly: true });

    const q: KpiQuery = { refId: 'A', kpi: 'gmv', groupBy: ['store'], anomaly: { weeks: 4, flagOnly: true } };
    rerender(<QueryEditor datasource={ds} query={q} onChange={onChange} onRunQuery={onRunQuery} range={range} />);
    expect(screen.getByLabelText('Anomaly flag only')).toBeChecked();
    await userEvent.click(screen.getByLabelText('Anomaly flag only'));
    expect(lastQuery(onChange).anomaly).toEqual({ weeks: 4 });

    rerender(<QueryEditor datasource={ds} query={q} onChange={onChange} onRunQuery={onRunQuery} range={range} />);
    await userEvent.click(screen.getByRole('radio', { name: 'Anomaly annotations' }));
    expect(lastQuery(onChange)).toEqual({ refId: 'A', queryType: 'anomalies', kpi: 'gmv', groupBy: ['store'], anomaly: { weeks: 4 } });
  });

  it('has no Flag only switch for anomaly annotations, nor while anomaly is off', async () => {
    setup({ queryType: 'anomalies', kpi: 'gmv' });
    await screen.findByTestId('kpi-info');
    expect(screen.getByLabelText('Anomaly weeks')).toBeInTheDocument();
    expect(screen.queryByLabelText('Anomaly flag only')).not.toBeInTheDocument();
  });

  it('disables the anomaly settings while anomaly is off', async () => {
    setup({ kpi: 'gmv' });
    await screen.findByTestId('kpi-info');
    expect(screen.getByRole('radio', { name: 'High' })).toBeDisabled();
    expect(screen.getByLabelText('Anomaly flag only')).toBeDisabled();
  });
});

describe('QueryEditor validation messages', () => {
  const cases: Array<[string, Partial<KpiQuery>, string, TimeRange?]> = [
    ['anomaly with compare', { kpi: 'gmv', anomaly: {}, compare: '1w', compareOutputs: ['series'] }, 'Anomaly detection cannot be combined with Compare'],
    ['anomaly on a daily interval', { kpi: 'gmv', anomaly: {}, interval: 'day' }, 'use an interval of 1h or finer'],
    ['anomaly on a 2h interval', { kpi: 'gmv', anomaly: {}, interval: '2h' }, 'use an interval of 1h or finer'],
    ['anomaly annotations on a daily interval', { queryType: 'anomalies', kpi: 'gmv', interval: 'day' }, 'or auto, which means 1h here'],
    ['anomaly annotations without KPI', { queryType: 'anomalies', kpi: '' }, 'Pick the KPI whose anomalies to show'],
    ['an unknown sensitivity', { kpi: 'gmv', anomaly: { sensitivity: 'extreme' as 'low' } }, 'Anomaly sensitivity "extreme" is unknown'],
    ['a sensitivity above 100', { kpi: 'gmv', anomaly: { sensitivity: 150 } }, 'more than 0 and at most 100'],
    ['a sensitivity of 0', { kpi: 'gmv', anomaly: { sensitivity: 0 } }, 'more than 0 and at most 100'],
    ['3 weeks of history', { kpi: 'gmv', anomaly: { weeks: 3 } }, 'Anomaly history must be 4 to 8 whole weeks'],
    ['anomaly annotations with flag only', { queryType: 'anomalies', kpi: 'gmv', anomaly: { flagOnly: true } }, 'Flag only is for KPI series'],
    ['anomaly on stickiness', { kpi: 'stickiness', anomaly: {}, interval: '1h' }, 'Stickiness is not'],
    ['a forecast of a distinct count', { kpi: 'active_users', forecast: { horizon: 'day' } }, 'A forecast of Active users is not possible: distinct counts'],
    ['a forecast of a ratio of distinct counts', { kpi: 'conversion_rate', forecast: { horizon: 'month' } }, 'A forecast of Conversion rate is not possible'],
    ['a forecast of stickiness', { kpi: 'stickiness', forecast: { horizon: 'month' } }, 'not a sum or a ratio of sums'],
    ['uplift of a distinct count', { kpi: 'active_users', uplift: {} }, 'Campaign uplift of Active users is not possible'],
    ['a zero baseline', { kpi: 'gmv', uplift: { baselineDays: 0 } }, 'Uplift baseline must be 1 to 366 whole days'],
    ['a baseline above a year', { kpi: 'gmv', uplift: { baselineDays: 400 } }, 'Uplift baseline must be 1 to 366 whole days'],
    ['uplift with compare', { kpi: 'gmv', uplift: {}, compare: '1y', compareOutputs: ['series'] }, 'Uplift cannot be combined with Compare'],
    ['a campaign filter on a KPI without campaigns', { kpi: 'conversion_rate', filters: { campaign: ['d11'] } }, 'Conversion rate cannot be filtered by campaign'],
    ['the campaign uplift catalog entry', { kpi: 'campaign_uplift' }, 'Campaign uplift is not a KPI of its own: pick the KPI to measure'],
    ['lifecycle on a short range', { kpi: 'gmv', lifecycle: true }, 'at least 8 whole weeks (Monday to Sunday): choose a longer time range'],
    ['lifecycle of a ratio', { kpi: 'aov', lifecycle: true }, 'Life-cycle stages come from a sales trend: AOV is a ratio', quarter],
    ['lifecycle of a distinct count', { kpi: 'active_users', lifecycle: true }, 'Active users is a distinct count', quarter],
    ['lifecycle with compare', { kpi: 'gmv', lifecycle: true, compare: '1w', compareOutputs: ['series'] }, 'Life-cycle stages cannot be combined with Compare', quarter],
    ['the life-cycle stage entry with a target', { kpi: 'lifecycle_stage', target: true }, 'target and lifecycle cannot be combined', quarter],
    ['a forecast with compare', { kpi: 'gmv', forecast: { horizon: 'day' }, compare: '1d', compareOutputs: ['series'] }, 'Forecast cannot be combined with Compare'],
    ['freshness filtered by channel', { queryType: 'freshness', kpi: '', filters: { channel: ['app'] } }, 'Freshness is per store: it can be filtered by store only; clear the channel filter'],
    ['a calendar filtered by category', { queryType: 'calendar', kpi: '', filters: { category: ['shoes'] } }, 'Campaigns can be filtered by store and campaign only; clear the category filter'],
    ['lifecycle by two dimensions', { kpi: 'gmv', lifecycle: true, groupBy: ['store', 'category'] }, 'group by one dimension (category when empty)', quarter],
    ['contribution without compare', { kpi: 'gmv', contribution: { dimension: 'store' } }, 'Contribution explains a change: choose a comparison period'],
    ['forecast with lifecycle', { kpi: 'gmv', forecast: { horizon: 'day' }, lifecycle: true }, 'forecast and lifecycle cannot be combined in one query', quarter],
    ['anomaly with uplift', { kpi: 'gmv', anomaly: {}, uplift: {} }, 'anomaly and uplift cannot be combined'],
  ];

  // every row gets its range: a row shorter than the callback's parameters would make jest pass `done`
  it.each(cases.map(([name, query, message, r]) => [name, query, message, r ?? range] as const))('explains %s and does not run it', async (_, query, message, r) => {
    const { onRunQuery } = setup(query, r);
    expect(await screen.findByTestId('query-problems')).toHaveTextContent(message);
    expect(onRunQuery).not.toHaveBeenCalled();
  });

  it.each<[string, Partial<KpiQuery>]>([
    ['the life-cycle stage entry by itself', { kpi: 'lifecycle_stage' }],
    ['lifecycle of GMV by category', { kpi: 'gmv', lifecycle: true, groupBy: ['category'] }],
    ['a forecast of a ratio of sums', { kpi: 'aov', forecast: { horizon: 'day' } }],
    ['uplift of a ratio of sums', { kpi: 'aov', uplift: { baselineDays: 14 } }],
    ['anomaly on a distinct count at 1h', { kpi: 'active_users', anomaly: { sensitivity: 2.5, weeks: 4 }, interval: '1h' }],
    ['compare with the same campaign last year', { kpi: 'gmv', compare: 'campaign', compareOutputs: ['series', 'change'] }],
    // with compare campaign and uplift the campaign filter names calendar campaigns: any KPI takes it
    ['the same campaign last year named by the campaign filter', { kpi: 'ctr', compare: 'campaign', compareOutputs: ['series'], filters: { campaign: ['d11'] } }],
    ['stickiness against the same campaign last year named by the campaign filter', { kpi: 'stickiness', compare: 'campaign', compareOutputs: ['series'], filters: { campaign: ['d11'] } }],
  ])('accepts %s', async (_, query) => {
    setup(query, quarter);
    await screen.findByTestId('kpi-info');
    expect(screen.queryByTestId('query-problems')).not.toBeInTheDocument();
  });

  it('offers the campaign filter for compare campaign and uplift whatever the KPI, and says what it means', async () => {
    const { rerender, ds, onChange, onRunQuery } = setup({ kpi: 'stickiness' });
    await screen.findByTestId('kpi-info');
    expect(screen.queryByLabelText('Filter campaign')).not.toBeInTheDocument();
    const q: KpiQuery = { refId: 'A', kpi: 'stickiness', compare: 'campaign', compareOutputs: ['series'], filters: { campaign: ['d11'] } };
    rerender(<QueryEditor datasource={ds} query={q} onChange={onChange} onRunQuery={onRunQuery} range={range} />);
    expect(screen.getByLabelText('Filter campaign')).toBeInTheDocument();
    expect(screen.getByTestId('query-hints')).toHaveTextContent('it does not filter the data by campaign');
  });

  it('explains how the life-cycle stage entry is computed', async () => {
    setup({ kpi: 'lifecycle_stage' }, quarter);
    await screen.findByTestId('kpi-info');
    expect(screen.getByTestId('query-hints')).toHaveTextContent('Life-cycle stage is GMV by category with the life-cycle transform');
  });
});
