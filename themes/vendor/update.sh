#!/usr/bin/env bash
# Re-vendors the browser libraries of the Mini App (themes/miniapp).
#
# Run only to upgrade a library: edit the pinned versions in package.json,
# run `npm install --package-lock-only` to update the lockfile, then this
# script, and commit package.json, package-lock.json and dist/. The server
# serves dist/ as it is and never needs Node (STYLE.md item 14).
#
# What it does: `npm ci` (exact versions from the lockfile), then one esbuild
# run that bundles entry.js, minified, into dist/telegram-bridge.js (an IIFE
# that defines `window.tgBridge`), and copies the license of every package
# that went into the bundle to dist/LICENSE-<package>.txt.
set -euo pipefail
cd "$(dirname "$0")"

npm ci --no-audit --no-fund

rm -rf dist
mkdir -p dist
meta="node_modules/.tikethet-meta.json"
version="$(node -p "require('./node_modules/@telegram-apps/bridge/package.json').version")"

./node_modules/.bin/esbuild entry.js \
  --bundle --minify --format=iife --global-name=tgBridge --target=es2020 \
  --legal-comments=none --charset=utf8 \
  --banner:js="/*! @telegram-apps/bridge ${version} and its dependencies, MIT licensed: see LICENSE-*.txt beside this file. Built by themes/vendor/update.sh; do not edit. */" \
  --metafile="$meta" --outfile=dist/telegram-bridge.js

# One license file per bundled package, named after the package
# (@telegram-apps/bridge -> LICENSE-telegram-apps-bridge.txt).
node - "$meta" <<'JS'
const fs = require('fs'), path = require('path');
const meta = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const pkgs = new Set();
for (const out of Object.values(meta.outputs)) {
  for (const input of Object.keys(out.inputs)) {
    const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
    if (m) pkgs.add(m[1]);
  }
}
for (const name of [...pkgs].sort()) {
  const dir = path.join('node_modules', name);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const file = fs.readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
  if (!file) throw new Error(`no license file in ${dir}: add it by hand or drop the package`);
  const target = `dist/LICENSE-${name.replace(/^@/, '').replace(/\//g, '-')}.txt`;
  const header = `${name} ${pkg.version} (${pkg.license}), bundled into telegram-bridge.js\n\n`;
  fs.writeFileSync(target, header + fs.readFileSync(path.join(dir, file), 'utf8'));
  console.log(`${target}`);
}
JS

wc -c dist/telegram-bridge.js
