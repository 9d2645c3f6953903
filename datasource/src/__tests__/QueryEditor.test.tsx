import React from 'react';
import { render, screen, waitFor, within, fireEvent } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { setTemplateSrv } from '@grafana/runtime';

import { QueryEditor } from '../components/QueryEditor';
import { DataSource } from '../datasource';
import { fakeTemplateSrv } from '../fakeTemplateSrv';
import { DIMENSION_VALUES, instanceSettings, KPIS, range } from '../testdata';
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

function setup(query: Partial<KpiQuery>) {
  const { ds, getResource } = mockDatasource();
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  const q = { refId: 'A', ...query } as KpiQuery;
  const utils = render(<QueryEditor datasource={ds} query={q} onChange={onChange} onRunQuery={onRunQuery} range={range} />);
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
    expect(lastQuery(onChange).anomaly).toEqual({ sensitivity: 3 });
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
    expect(screen.getByTestId('query-planned')).toHaveTextContent('anomaly is designed but not implemented');
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
