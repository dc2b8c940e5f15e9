/** `npm run docs:config`: writes docs/configuration.md from the config schemas. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configurationReferencePath, renderConfigurationReference } from './configuration-reference.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
writeFileSync(join(root, configurationReferencePath), await renderConfigurationReference(root));
console.log(`wrote ${configurationReferencePath}`);
