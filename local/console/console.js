// The run console's only script: live updates over server-sent events. The page names its
// stream in <body data-events>. On `change` it fetches the page again and swaps each
// `data-live` element whose content differs; on `log` it replaces or extends a job's log.
// Without it the pages still work: they are complete as served.
'use strict';

const streamUrl = document.body.dataset.events;

/**
 * The graph's layers are centred, its first state in the middle: show the middle of a graph
 * wider than the screen, unless the reader scrolled it already (`scrolled`, kept across
 * refreshes).
 */
function placeGraph(scrolled) {
  const wrap = document.querySelector('.graph-wrap');
  if (!wrap) return;
  wrap.scrollLeft = scrolled ?? (wrap.scrollWidth - wrap.clientWidth) / 2;
  wrap.addEventListener('scroll', () => {
    wrap.dataset.scrolled = String(wrap.scrollLeft);
  });
}

/** Swaps the live parts of the page with those of a fresh copy, leaving equal ones alone. */
async function refresh() {
  const response = await fetch(window.location.href, { headers: { accept: 'text/html' } });
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), 'text/html');
  const scrolled = document.querySelector('.graph-wrap')?.dataset.scrolled;
  for (const part of document.querySelectorAll('[data-live]')) {
    const next = part.id === '' ? null : fresh.getElementById(part.id);
    if (next && next.innerHTML !== part.innerHTML) {
      part.replaceWith(document.importNode(next, true));
      if (part.id === 'graph') placeGraph(scrolled === undefined ? undefined : Number(scrolled));
    }
  }
}

/** A job's log: replaced by the first chunk the stream sends, then extended. */
function showLog({ name, text, reset }) {
  const logs = document.getElementById('logs');
  if (!logs) return;
  let pre = [...logs.querySelectorAll('pre[data-log]')].find((p) => p.dataset.log === name);
  if (!pre) {
    const section = document.createElement('section');
    section.className = 'log';
    const heading = document.createElement('h3');
    heading.textContent = name;
    pre = document.createElement('pre');
    pre.dataset.log = name;
    pre.tabIndex = 0;
    pre.setAttribute('aria-label', `Log of ${name}`);
    section.append(heading, pre);
    logs.insertBefore(section, logs.querySelector('[data-no-logs]'));
    const none = logs.querySelector('[data-no-logs]');
    if (none) none.hidden = true;
  }
  // Follow the end only when the reader is already there.
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  if (reset) pre.textContent = text;
  else pre.append(text);
  if (atEnd) pre.scrollTop = pre.scrollHeight;
}

placeGraph(undefined);

if (streamUrl) {
  let pending = Promise.resolve();
  const events = new EventSource(streamUrl);
  events.addEventListener('change', () => {
    // One refresh at a time, in order.
    pending = pending.then(refresh).catch(() => undefined);
  });
  events.addEventListener('log', (event) => showLog(JSON.parse(event.data)));
}
