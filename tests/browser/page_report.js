// Everything the browser suite's checks need, cell by cell, from the notebook model and the
// page: run in the page by jupyterlab_driver.NotebookPage.report().
() => {
  const panel = window.__kmslab.panel;
  const cells = [];
  panel.content.widgets.forEach((cell, index) => {
    const model = cell.model;
    const entry = { index, type: model.type, count: null, outputs: [], widgetViews: 0,
                    rendered: 0, failed: [], stderrTexts: [], outputWidgetTexts: [],
                    statusTexts: [], source: model.sharedModel.getSource().slice(0, 80) };
    if (model.type === 'code') {
      entry.count = model.executionCount;
      for (const out of model.outputs.toJSON()) {
        entry.outputs.push({ type: out.output_type, name: out.name || null,
                             ename: out.ename || null, evalue: out.evalue || null,
                             text: Array.isArray(out.text) ? out.text.join('') : (out.text || '') });
        if (out.data && out.data['application/vnd.jupyter.widget-view+json']) entry.widgetViews += 1;
      }
      const node = cell.node;
      for (const el of node.querySelectorAll('.jp-OutputArea-output > .jupyter-widgets')) {
        const error = el.querySelector('.jupyter-widgets-error-widget')
          || (el.classList.contains('jupyter-widgets-error-widget') ? el : null);
        if (error) entry.failed.push((el.innerText || 'widget error').trim().slice(0, 300));
        else entry.rendered += 1;
      }
      for (const el of node.querySelectorAll('.jp-OutputArea-output')) {
        const text = (el.innerText || '').trim();
        if (/^Error displaying widget/.test(text)) entry.failed.push(text.slice(0, 300));
      }
      const stderr = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]';
      for (const el of node.querySelectorAll(stderr)) entry.stderrTexts.push(el.innerText || '');
      for (const el of node.querySelectorAll('.widget-output')) entry.outputWidgetTexts.push(el.innerText || '');
      for (const el of node.querySelectorAll('[role="status"]')) entry.statusTexts.push(el.innerText || '');
    }
    cells.push(entry);
  });
  const plugins = window.jupyterapp.pluginRegistry && window.jupyterapp.pluginRegistry._plugins;
  const plugin = plugins && plugins.get('@jupyterlab/logconsole-extension:plugin');
  const log = [];
  if (plugin && plugin.service) {
    const model = plugin.service.getLogger(panel.context.path).outputAreaModel;
    for (let i = 0; i < model.length; i++) {
      const item = model.get(i);
      const json = item.toJSON();
      log.push({ level: item.level,
                 text: json.traceback ? json.traceback.join('\n')
                     : (json.ename ? json.ename + ': ' + json.evalue
                     : (Array.isArray(json.text) ? json.text.join('') : (json.text || JSON.stringify(json).slice(0, 500)))) });
    }
  }
  const kernel = panel.sessionContext.session?.kernel;
  return { cells, log, logConsole: !!(plugin && plugin.service),
           kernel: kernel ? kernel.status : 'none' };
}
