// Captures what a user sees in the code-server page through Chromium's DevTools protocol:
//   node cdp_capture.mjs <debugging port> <png path> <json path>
// writes a PNG of the page (Page.captureScreenshot) and, as JSON, each frame's visible text,
// headings and <details> (the workbench, and the webviews inside it: the Markdown preview, the
// Gemma panel), plus the notification toasts. Needs Node 22+ (the built-in WebSocket).
import fs from 'node:fs';

const [port, png, out] = process.argv.slice(2);

// Runs in every frame: what is on the page, read the way a user reads it (innerText skips the
// content of a closed <details> and of hidden elements).
function collect() {
  const frames = [];
  const walk = (doc) => {
    if (!doc || !doc.body) return;
    frames.push({
      url: String(doc.location && doc.location.href).slice(0, 300),
      text: doc.body.innerText.slice(0, 30000),
      headings: [...doc.querySelectorAll('h1, h2, h3')].map((h) => ({ tag: h.tagName, text: h.textContent.trim() })),
      details: [...doc.querySelectorAll('details')].map((d) => ({ open: d.open, summary: (d.querySelector('summary') || {}).textContent || '' })),
      toasts: [...doc.querySelectorAll('.notification-toast')].map((t) => t.innerText),
      // The rendered text outside code blocks (a Python comment in a code block may start with #).
      prose: [...doc.querySelectorAll('p, li, h1, h2, h3, h4, h5, h6, summary, td, th')]
        .filter((e) => !e.closest('pre') && e.offsetParent !== null)
        .map((e) => e.innerText),
    });
    for (const frame of doc.querySelectorAll('iframe')) {
      try {
        walk(frame.contentDocument);
      } catch {
        // another origin: it is its own target, read on its own below
      }
    }
  };
  walk(document);
  return frames;
}

async function connect(url) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let next = 0;
  const pending = new Map();
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    const waiter = pending.get(message.id);
    if (waiter) {
      pending.delete(message.id);
      waiter(message);
    }
  };
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = ++next;
      pending.set(id, (m) => (m.error ? reject(new Error(`${method}: ${JSON.stringify(m.error)}`)) : resolve(m.result)));
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => ws.close() };
}

const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
const pages = targets.filter((t) => t.type === 'page' && t.webSocketDebuggerUrl);
const page = pages.find((t) => t.url.includes('folder=')) || pages[0];
const result = { url: page.url, frames: [] };
const main = await connect(page.webSocketDebuggerUrl);
const shot = await main.send('Page.captureScreenshot', { format: 'png' });
fs.writeFileSync(png, Buffer.from(shot.data, 'base64'));
const expression = `(${collect.toString()})()`;
for (const target of [page, ...targets.filter((t) => t.type === 'iframe' && t.webSocketDebuggerUrl)]) {
  const session = target === page ? main : await connect(target.webSocketDebuggerUrl);
  try {
    const evaluated = await session.send('Runtime.evaluate', { expression, returnByValue: true });
    result.frames.push(...(evaluated.result.value || []));
  } catch (error) {
    result.frames.push({ url: target.url, error: String(error) });
  } finally {
    if (session !== main) session.close();
  }
}
main.close();
fs.writeFileSync(out, JSON.stringify(result, null, 1));
process.exit(0);
