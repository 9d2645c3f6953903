/*
 * Renders the plugin's real editors with the real @grafana/ui (dark theme) in jsdom and writes each as a static
 * HTML page (markup and the emotion styles @grafana/ui injected) to screenshots/out/. scripts/screenshots.sh
 * (make plugin-screenshots) runs this file with jest and photographs the pages with headless Chromium into
 * src/img/, the screenshots plugin.json lists for the catalog page. Not part of the test suite (testMatch).
 */
import fs from 'fs';
import path from 'path';
import React from 'react';
import { render, screen } from '@testing-library/react';
import { setTemplateSrv } from '@grafana/runtime';

import { ConfigEditor } from '../src/components/ConfigEditor';
import { QueryEditor } from '../src/components/QueryEditor';
import { DataSource } from '../src/datasource';
import { fakeTemplateSrv } from '../src/fakeTemplateSrv';
import { DIMENSION_VALUES, instanceSettings, KPIS, range } from '../src/testdata';
import { KpiQuery } from '../src/types';

const OUT = path.join(__dirname, 'out');
const templateSrv = fakeTemplateSrv([{ name: 'store', current: ['tmall-01', 'jd-02'], options: DIMENSION_VALUES.store }]);
setTemplateSrv(templateSrv);

function page(title: string, body: string): string {
  // emotion inserts its rules through the CSSOM (insertRule), so the <style> elements' text is empty.
  const css = Array.from(document.querySelectorAll('style'))
    .map((s) => (s.textContent ?? '') + Array.from(s.sheet?.cssRules ?? []).map((r) => r.cssText).join('\n'))
    .join('\n');
  const styles = `<style>${css}</style>`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>${styles}
<style>*,*::before,*::after{box-sizing:border-box}body{margin:0;padding:24px;background:#111217;color:#ccccdc;font-family:Inter,Helvetica,Arial,sans-serif;font-size:14px}</style>
</head><body>${body}</body></html>`;
}

function datasource() {
  const ds = new DataSource(instanceSettings, templateSrv);
  jest.spyOn(ds, 'getResource').mockImplementation(async (p: string, params?: any) => {
    if (p === 'kpis') {
      return { kpis: KPIS };
    }
    return { dimension: params.dim, values: DIMENSION_VALUES[params.dim] ?? [] };
  });
  return ds;
}

beforeAll(() => fs.mkdirSync(OUT, { recursive: true }));

it('query editor: AOV by store compared with last week', async () => {
  const query: KpiQuery = {
    refId: 'A',
    queryType: 'kpi',
    kpi: 'aov',
    filters: { store: ['$store'] },
    groupBy: ['store'],
    compare: '1w',
    compareOutputs: ['series', 'change'],
    version: 1,
  } as KpiQuery;
  const { container } = render(
    <QueryEditor datasource={datasource()} query={query} onChange={() => {}} onRunQuery={() => {}} range={range} />
  );
  await screen.findByTestId('kpi-info', {}, { timeout: 30000 });
  fs.writeFileSync(path.join(OUT, 'query-editor.html'), page('Query editor', container.innerHTML));
}, 60000);

it('config editor', async () => {
  const options = {
    ...instanceSettings,
    jsonData: { ...instanceSettings.jsonData, url: 'http://influxdb:8086', version: '2.x', org: 'storepulse', bucket: 'storepulse' },
    secureJsonFields: { token: true },
    secureJsonData: {},
  } as any;
  const { container } = render(<ConfigEditor options={options} onOptionsChange={() => {}} />);
  fs.writeFileSync(path.join(OUT, 'config-editor.html'), page('Config editor', container.innerHTML));
}, 60000);
