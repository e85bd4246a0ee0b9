// Crypto miners (resource hijacking): miner images, mining-pool URLs and miner-only flags. Wallet
// and node software (monerod, monero-wallet-rpc) is not mining and does not fire.
import { mustCompile } from '../../safe-regex.ts';
import { IdiomSet, TokenGate, idiom, type Detection } from './idiom.ts';
import { excerpt } from './shell-text.ts';

const MINERS = [
  'xmrig',
  'xmr-stak',
  'cpuminer',
  'minerd',
  'ccminer',
  't-rex',
  'lolminer',
  'nbminer',
  'phoenixminer',
  'ethminer',
  'nanominer',
  'gminer',
  'teamredminer',
  'srbminer',
  'kawpowminer',
  'cgminer',
  'bfgminer',
  'nheqminer',
  'wildrig',
  'bzminer',
];

const POOLS = [
  'minexmr',
  'supportxmr',
  'nanopool',
  '2miners',
  'hashvault',
  'moneroocean',
  'nicehash',
  'f2pool',
  'c3pool',
  'ethermine',
  'unmineable',
  'herominers',
  'minergate',
  'xmrpool',
  'miningpoolhub',
  'flexpool',
  'hiveon',
  'zergpool',
  'woolypooly',
  'kryptex',
  'prohashing',
  'antpool',
  'viabtc',
  'dxpool',
  'monerohash',
  'xmrfast',
  'skypool',
  'solopool',
  'crazypool',
  'dwarfpool',
  'mining-dutch',
];

const WALLET = String.raw`(?:[48][1-9A-HJ-NP-Za-km-z]{94}|0x[0-9a-fA-F]{40}|bc1[02-9ac-hj-np-z]{38,58})`;

const IDIOMS = new IdiomSet([
  idiom(
    'stratum mining-pool URL',
    ['stratum'],
    String.raw`(?i)\bstratum[0-9]*(?:\+[a-z0-9]+)?://\S*`,
  ),
  idiom(
    'xmrig-only option',
    ['donate-level', 'cpu-max-threads-hint', 'randomx-'],
    String.raw`--(?:donate-level|cpu-max-threads-hint|randomx-1gb-pages|randomx-mode)\b\S*`,
  ),
  idiom(
    'miner program',
    MINERS,
    // A whole command word (`cpuminer-opt` yes, Cisco's `t-rex-64` traffic generator no).
    String.raw`(?i)(?:^|[\s/;&|(=])(?:` +
      MINERS.join('|') +
      String.raw`)(?:-[a-z]+)*(?:$|[\s;&|)])`,
  ),
  idiom(
    'mining-pool host',
    POOLS,
    String.raw`(?i)[a-z0-9.-]*\b(?:` + POOLS.join('|') + String.raw`)\.[a-z]{2,}\b(?::[0-9]+)?`,
  ),
  idiom(
    'pool address with a wallet as the user',
    ['-o ', '-o=', '--url'],
    String.raw`(?:^|\s)(?:-u|--user|--wallet)[\s=]+${WALLET}`,
    String.raw`(?:^|\s)(?:-o|--url)[\s=]+(?:[a-z0-9+]+://)?[\w.-]+:[0-9]{2,5}\b`,
  ),
  idiom(
    'mining algorithm option',
    ['-a ', '-a=', '--algo', '--coin'],
    String.raw`(?i)(?:^|\s)(?:(?:-a|--algo|--algorithm)[\s=]+(?:rx/[0-9a-z]+|cn(?:-[a-z]+)?/[0-9a-z]+|cryptonight\S*|randomx|kawpow|ethash|etchash|autolykos2?|kheavyhash|equihash\S*|cuckatoo[0-9]*|ghostrider|argon2\S*)|--coin[\s=]+(?:monero|xmr|etc|rvn|erg)\b)`,
  ),
]);

// Miner names as a component of the image reference: `xmrig/xmrig:6`, `me/cpuminer-opt`.
const IMAGE = mustCompile(
  String.raw`(?:^|[/:@_.-])(?:` +
    [...MINERS, 'xmr-node-proxy'].join('|') +
    String.raw`)(?:$|[/:@_.-])`,
);

const IMAGE_GATE = new TokenGate([[...MINERS, 'xmr-node-proxy']]);

/** Any text that can match holds one of these (see IdiomSet.tokens). */
export const minerTextTokens = IDIOMS.tokens;

export function detectMinerText(text: string): Detection | undefined {
  return IDIOMS.first(text, IDIOMS.scan(text));
}

export function detectMinerImage(image: string): Detection | undefined {
  if (IMAGE_GATE.scan(image) === 0 || !IMAGE.test(image.toLowerCase())) return undefined;
  return { label: 'crypto-miner image', evidence: excerpt(image) };
}
