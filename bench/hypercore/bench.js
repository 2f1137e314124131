'use strict'
/*
 * bench.js — the Hypercore side of rcn's benchmark (issue #8).
 *
 * A writer core A (this process) appends N records of exactly the bytes rcn's benchmark
 * authors (rcb_alert_body: a protobuf Alert of 512 bytes), in two modes: "single" (one
 * awaited append per record) and "batch1000" (append of 1000 records per call). A replica B,
 * opened with A's key on its own storage, runs in a SECOND node process (this script with
 * --replica) and replicates from A over a local TCP socket: A's server pipes
 * a.replicate(true) to the accepted socket, B pipes b.replicate(false) to its connection.
 * B downloads eagerly (b.download({ start: 0, end: -1 })) and reports over the fork IPC
 * channel once b.contiguousLength reaches N and its first and last blocks read back
 * identical to what A appended. Both cores use Hypercore's default file storage on disk.
 *
 * The design decision: the replicated rate is N / (time from A's first append until A
 * receives B's "done"), so it includes A's appends, the transfer, B's verification and B's
 * writes, as rcn's replication figure does.
 *
 * Usage (writer): node bench.js --hc DIR --runs DIR [--records N] [--timeout S]
 *   --hc DIR     folder holding node_modules/hypercore (installed by bench/hypercore/run)
 *   --runs DIR   storage root; each mode gets DIR/<mode>/{a,b}, wiped before and after
 * Prints progress to stderr and one JSON object as the last stdout line. Exit 0 on success,
 * 1 when a measurement failed, 2 on usage errors.
 */

const path = require('path')
const fs = require('fs')
const net = require('net')
const { fork } = require('child_process')
const { createRequire } = require('module')

const RECORD_BYTES = 512
const TEXT_BYTES = RECORD_BYTES - 5
const BATCH = 1000

function log (msg) {
  process.stderr.write('hypercore: ' + msg + '\n')
}

function usage (msg) {
  process.stderr.write('bench.js: ' + msg + '\n' +
    'usage: node bench.js --hc DIR --runs DIR [--records N] [--timeout S]\n')
  process.exit(2)
}

function nowS () {
  return Number(process.hrtime.bigint()) / 1e9
}

/* Record i: protobuf Alert { severity = MINOR (field 2, varint 1), text (field 3, length 507) }
 * = 0x10 0x01 0x1a 0xfb 0x03 then "benchmark alert <i> " padded with 'x' to 507 bytes,
 * byte for byte what rcb_alert_body (bench/bench.c) produces. */
function record (i) {
  const b = Buffer.alloc(RECORD_BYTES, 'x')
  b[0] = 0x10
  b[1] = 0x01
  b[2] = 0x1a
  b[3] = 0xfb
  b[4] = 0x03
  b.write('benchmark alert ' + i + ' ', 5, 'latin1')
  return b
}

function parseArgs (argv, spec) {
  const out = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--') || !(a.slice(2) in spec)) usage('unknown argument ' + a)
    const k = a.slice(2)
    if (spec[k] === 'flag') {
      out[k] = true
      continue
    }
    if (i + 1 >= argv.length) usage(a + ' needs a value')
    out[k] = argv[++i]
  }
  return out
}

function positiveInt (v, name, max) {
  if (!/^[0-9]+$/.test(v)) usage(name + ' must be a positive integer, got ' + v)
  const n = Number(v)
  if (n < 1 || n > max) usage(name + ' must be in 1..' + max + ', got ' + v)
  return n
}

/* Ed25519 signatures made and verified through hypercore's own hypercore-crypto, counted by
 * wrapping the module's exports (lib/verifier.js calls this.crypto.sign/verify on that module
 * object at call time), so the JSON shows what the source says rather than asserting it. */
const COUNTS = { signs: 0, verifies: 0 }

function loadHypercore (hcDir) {
  const req = createRequire(path.join(path.resolve(hcDir), 'package.json'))
  let Hypercore, version
  try {
    Hypercore = req('hypercore')
    version = req('hypercore/package.json').version
    const hreq = createRequire(req.resolve('hypercore'))
    const crypto = hreq('hypercore-crypto')
    const sign = crypto.sign
    const verify = crypto.verify
    crypto.sign = function (message, secretKey) {
      COUNTS.signs++
      return sign(message, secretKey)
    }
    crypto.verify = function (message, signature, publicKey) {
      COUNTS.verifies++
      return verify(message, signature, publicKey)
    }
  } catch (err) {
    process.stderr.write('bench.js: cannot load hypercore from ' + hcDir + ': ' + err.message + '\n')
    process.exit(1)
  }
  return { Hypercore, version }
}

/* Resolves with the promise's value, or rejects after s seconds naming what it waited for. */
function bounded (promise, s, what) {
  let timer
  const t = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error('timed out after ' + s + ' s waiting for ' + what)), s * 1000)
  })
  return Promise.race([promise, t]).finally(() => clearTimeout(timer))
}

/* ---------------------------------------------------------------- replica (process B) */

async function replicaMain (args) {
  const { Hypercore } = loadHypercore(args.hc)
  const n = Number(args.records)
  const deadline = Number(args.timeout)
  const send = (m) => { if (process.connected) process.send(m) }
  const killer = setTimeout(() => {
    send({ type: 'error', message: 'replica gave up after ' + deadline + ' s' })
    process.exit(1)
  }, deadline * 1000)
  killer.unref()

  const b = new Hypercore(args.dir, Buffer.from(args.key, 'hex'))
  await b.ready()

  /* What each data message from A carries: the replicator hands every one to Core.verify
   * (lib/replicator.js Peer.ondata -> lib/core.js verify). */
  const wire = { messages: 0, blocks: 0, block_proof_nodes: 0, upgrades: 0, upgrade_nodes: 0 }
  const coreVerify = b.core.verify.bind(b.core)
  b.core.verify = function (proof, from) {
    wire.messages++
    if (proof.block) {
      wire.blocks++
      wire.block_proof_nodes += proof.block.nodes.length
    }
    if (proof.upgrade) {
      wire.upgrades++
      wire.upgrade_nodes += proof.upgrade.nodes.length + proof.upgrade.additionalNodes.length
    }
    return coreVerify(proof, from)
  }
  const sock = net.connect({ host: '127.0.0.1', port: Number(args.port) })
  sock.setNoDelay(true)
  const s = b.replicate(false)
  s.pipe(sock).pipe(s)
  s.on('error', () => {})
  sock.on('error', (err) => {
    send({ type: 'error', message: 'replica socket: ' + err.message })
  })

  let done = false
  let peered = false
  const progress = setInterval(() => {
    log('  replica holds ' + b.contiguousLength + ' / ' + n)
  }, 2000)

  async function check () {
    if (done || b.contiguousLength < n) return
    done = true
    const tDone = nowS()
    clearInterval(progress)
    const first = await b.get(0, { wait: false })
    const last = await b.get(n - 1, { wait: false })
    send({
      type: 'done',
      t: tDone,
      length: b.length,
      contiguousLength: b.contiguousLength,
      firstOk: !!first && first.equals(record(0)),
      lastOk: !!last && last.equals(record(n - 1)),
      wire,
      verifies: COUNTS.verifies
    })
  }

  b.on('download', check)
  b.on('append', check)
  b.on('peer-add', () => {
    if (peered) return
    peered = true
    send({ type: 'ready' })
  })
  b.download({ start: 0, end: -1 })

  process.on('message', async (m) => {
    if (m && m.type === 'close') {
      clearInterval(progress)
      sock.destroy()
      await bounded(b.close(), 10, 'the replica to close').catch(() => {})
      process.exit(0)
    }
  })
  process.on('disconnect', () => process.exit(1))
}

/* ---------------------------------------------------------------- writer (process A) */

function rmrf (dir) {
  fs.rmSync(dir, { recursive: true, force: true })
}

async function runMode (Hypercore, mode, runsDir, n, recs, timeoutS) {
  const dir = path.join(runsDir, mode)
  rmrf(dir)
  fs.mkdirSync(dir, { recursive: true })

  const a = new Hypercore(path.join(dir, 'a'))
  await bounded(a.ready(), 30, 'core A to open')

  const sockets = new Set()
  const server = net.createServer((sock) => {
    sockets.add(sock)
    sock.setNoDelay(true)
    sock.on('close', () => sockets.delete(sock))
    sock.on('error', () => {})
    const s = a.replicate(true)
    s.on('error', () => {})
    s.pipe(sock).pipe(s)
  })
  await bounded(new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  }), 10, 'the replication socket to listen')
  const port = server.address().port

  const child = fork(__filename, [
    '--replica', '--hc', HC_DIR, '--dir', path.join(dir, 'b'), '--key', a.key.toString('hex'),
    '--port', String(port), '--records', String(n), '--timeout', String(timeoutS + 60)
  ], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  CHILDREN.add(child)

  const msgs = { ready: null, done: null }
  const waiters = {}
  let childError = null
  const arrived = (type) => new Promise((resolve, reject) => {
    if (msgs[type]) return resolve(msgs[type])
    if (childError) return reject(childError)
    waiters[type] = { resolve, reject }
  })
  const failAll = (err) => {
    childError = err
    for (const w of Object.values(waiters)) w.reject(err)
  }
  child.on('message', (m) => {
    if (m.type === 'error') return failAll(new Error(m.message))
    if (m.type === 'done') m.tRecv = nowS()
    msgs[m.type] = m
    if (waiters[m.type]) waiters[m.type].resolve(m)
  })
  child.on('exit', (code, sig) => {
    CHILDREN.delete(child)
    if (!msgs.done) failAll(new Error('replica exited early (' + (sig || code) + ')'))
  })

  let result
  try {
    await bounded(arrived('ready'), 30, 'replica B to connect')
    log(mode + ': replica connected (tcp 127.0.0.1:' + port + '); appending ' + n + ' records')

    let appended = 0
    const progress = setInterval(() => log('  ' + mode + ': appended ' + appended + ' / ' + n), 2000)
    const signs0 = COUNTS.signs
    const t0 = nowS()
    const appendDeadline = t0 + timeoutS
    try {
      if (mode === 'single') {
        for (let i = 0; i < n; i++) {
          await a.append(recs[i])
          appended++
          if ((i & 1023) === 0 && nowS() > appendDeadline) throw new Error('appends took over ' + timeoutS + ' s')
        }
      } else {
        for (let i = 0; i < n; i += BATCH) {
          const chunk = recs.slice(i, Math.min(n, i + BATCH))
          await a.append(chunk)
          appended += chunk.length
          if (nowS() > appendDeadline) throw new Error('appends took over ' + timeoutS + ' s')
        }
      }
    } finally {
      clearInterval(progress)
    }
    const tAppended = nowS()
    const signs = COUNTS.signs - signs0
    if (a.length !== n) throw new Error('core A holds ' + a.length + ' blocks, expected ' + n)
    log(mode + ': appended in ' + (tAppended - t0).toFixed(2) + ' s; waiting for the replica')

    const remaining = Math.max(5, appendDeadline + timeoutS - nowS())
    const done = await bounded(arrived('done'), remaining, 'replica B to hold all ' + n + ' blocks')
    if (done.contiguousLength < n || !done.firstOk || !done.lastOk) {
      throw new Error('replica B reports contiguousLength ' + done.contiguousLength +
        ', first block ' + (done.firstOk ? 'ok' : 'DIFFERENT') + ', last block ' + (done.lastOk ? 'ok' : 'DIFFERENT'))
    }
    const seconds = done.tRecv - t0
    result = {
      append_per_s: Math.round(n / (tAppended - t0)),
      append_seconds: round3(tAppended - t0),
      replicated_per_s: Math.round(n / seconds),
      seconds: round3(seconds),
      append_calls: mode === 'single' ? n : Math.ceil(n / BATCH),
      writer_signatures: signs,
      replica_signature_verifies: done.verifies,
      replica_data_messages: done.wire.messages,
      replica_blocks_received: done.wire.blocks,
      proof_nodes_per_block: round3(done.wire.block_proof_nodes / Math.max(1, done.wire.blocks)),
      replica_upgrades: done.wire.upgrades,
      upgrade_nodes: done.wire.upgrade_nodes
    }
    log(mode + ': replica holds all ' + n + ' blocks after ' + seconds.toFixed(2) + ' s')
  } finally {
    if (child.connected) child.send({ type: 'close' })
    await bounded(new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', resolve)
    }), 15, 'replica B to exit').catch(() => child.kill('SIGKILL'))
    for (const s of sockets) s.destroy()
    server.close()
    await bounded(a.close(), 15, 'core A to close').catch((err) => log('warning: ' + err.message))
    rmrf(dir)
  }
  return result
}

function round3 (x) {
  return Math.round(x * 1000) / 1000
}

const CHILDREN = new Set()
let HC_DIR = null

async function writerMain (args) {
  if (!args.hc) usage('--hc DIR is required')
  if (!args.runs) usage('--runs DIR is required')
  const n = args.records ? positiveInt(args.records, '--records', 10000000) : 50000
  const timeoutS = args.timeout ? positiveInt(args.timeout, '--timeout', 3600) : 150
  HC_DIR = path.resolve(args.hc)
  const { Hypercore, version } = loadHypercore(HC_DIR)
  if (!version.startsWith('10.')) {
    process.stderr.write('bench.js: expected hypercore 10.x, found ' + version + '\n')
    process.exit(1)
  }
  const runsDir = path.resolve(args.runs)
  fs.mkdirSync(runsDir, { recursive: true })

  const cleanup = () => { for (const c of CHILDREN) c.kill('SIGKILL') }
  process.on('exit', cleanup)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => { cleanup(); process.exit(1) })
  }

  log('hypercore ' + version + ', node ' + process.version + ', ' + n + ' records of ' + RECORD_BYTES + ' bytes')
  const recs = new Array(n)
  for (let i = 0; i < n; i++) recs[i] = record(i)

  const out = {
    hypercore_version: version,
    records: n,
    record_bytes: RECORD_BYTES,
    node_version: process.version
  }
  for (const mode of ['single', 'batch1000']) {
    out[mode] = await runMode(Hypercore, mode, runsDir, n, recs, timeoutS)
  }
  const best = out.single.replicated_per_s >= out.batch1000.replicated_per_s ? 'single' : 'batch1000'
  out.best_mode = best
  out.best_replicated_per_s = out[best].replicated_per_s
  out.signs = SIGNS
  out.syncs = SYNCS
  out.transport = TRANSPORT
  process.stdout.write(JSON.stringify(out) + '\n')
}

/* What each side signs and syncs, read from hypercore 10.38.2's source (see the report in
 * bench/hypercore/README.md for the file and function references). */
const SIGNS = 'A signs once per append() call, whatever the number of blocks: ' +
  'lib/core.js Core.append builds one MerkleTreeBatch and calls verifier.sign once, an Ed25519 ' +
  'crypto_sign_detached (hypercore-crypto sign) over the BLAKE2b-256 hash of the Merkle tree ' +
  'roots plus length and fork (caps.treeSignableCompat, 80 bytes), so "single" pays one signature ' +
  'per record and "batch1000" one per 1000; every block also costs a BLAKE2b leaf hash and the ' +
  'new parent nodes; B checks each block by hashing it up the Merkle proof nodes A sends with it ' +
  '(merkle-tree.js verifyTree) to a node it already holds, and verifies one Ed25519 signature ' +
  'only for a data message carrying a length upgrade (core.js _verifyBatchUpgrade).'
const SYNCS = 'Nothing is ever fsynced: random-access-file (the default storage) only calls ' +
  'fs.write/read/ftruncate/close, and no module in the tree calls fsync or fdatasync, on append, ' +
  'on the oplog flush every 4th write (core.js _shouldFlush/_flushOplog) or on close; ' +
  'durability is left to the page cache, whereas rcn fdatasyncs each group commit.'
const TRANSPORT = 'B runs in a second node process; A listens on 127.0.0.1 TCP and pipes ' +
  'a.replicate(true) to the accepted socket, B pipes b.replicate(false) to its connection ' +
  '(Noise-encrypted secret stream over TCP, one request/data message per block, ' +
  'at most 48 requests in flight on a non-UDX stream).'

const argv = process.argv.slice(2)
if (argv[0] === '--replica') {
  const args = parseArgs(argv.slice(1), { hc: 'v', dir: 'v', key: 'v', port: 'v', records: 'v', timeout: 'v' })
  replicaMain(args).catch((err) => {
    if (process.connected) process.send({ type: 'error', message: 'replica: ' + err.message })
    process.exit(1)
  })
} else {
  const args = parseArgs(argv, { hc: 'v', runs: 'v', records: 'v', timeout: 'v' })
  writerMain(args).catch((err) => {
    process.stderr.write('bench.js: ' + err.message + '\n')
    for (const c of CHILDREN) c.kill('SIGKILL')
    process.exit(1)
  })
}
