// bx over NATS against the Node.js nats client (npm nats 2.29.3, tests/nats/package-lock.json).
//   node interop.mjs NATS_URL BXCTL
// A bx calc (bxt_nats_calc) is attached to NATS_URL already. Checks:
//  1. the node client calls it with a raw FOAM frame (nats req bx.svc.calc '...') and reads the
//     FOAM answer;
//  2. a node service answering FOAM frames on bx.svc.nodecalc is called by a bx client
//     (bxctl --url nats://.../nodecalc call nodecalc add 40 2).
import { connect, StringCodec } from "nats";
import { execFile } from "node:child_process";

const [url, bxctl] = process.argv.slice(2);
const sc = StringCodec();
let failures = 0;
const ok = (m) => console.log("ok: " + m);
const bad = (m) => { failures++; console.log("FAILED: " + m); };

const nc = await connect({ servers: url.replace("nats://", ""), timeout: 5000 });

// 1. node -> bx
const frame = JSON.stringify({
  class: "foam.box.Message",
  attributes: { replyBox: { class: "foam.box.ReturnBox" } },
  object: {
    class: "foam.box.SubBoxMessage", name: "calc",
    object: { class: "foam.box.RPCMessage", name: "add", args: [1, 2] },
  },
});
let answer = null;
for (let i = 0; i < 100 && answer === null; i++) {
  try {
    const m = await nc.request("bx.svc.calc", sc.encode(frame), { timeout: 3000 });
    answer = JSON.parse(sc.decode(m.data));
  } catch (e) { // no responders until the subscription is in place
    await new Promise((r) => setTimeout(r, 50));
  }
}
const ret = answer && answer.object;
if (ret && ret.class === "foam.box.RPCReturnMessage" && ret.data === 3)
  ok("a node nats client calls the bx calc with a raw FOAM frame: " + JSON.stringify(answer));
else bad("node -> bx answer: " + JSON.stringify(answer));

// 2. bx -> node: a service written with the node client, answering FOAM frames
const sub = nc.subscribe("bx.svc.nodecalc", { queue: "bx.svc.nodecalc" });
(async () => {
  for await (const m of sub) {
    const req = JSON.parse(sc.decode(m.data));
    const call = req.object.object;
    const reply = req.attributes.replyBox;
    let out = { class: "foam.box.RPCReturnMessage", data: call.args[0] + call.args[1] };
    // the reply box travels as SubBox{name, ReturnBox}: ReturnBox is the reply subject
    if (reply && reply.class === "foam.box.SubBox")
      out = { class: "foam.box.SubBoxMessage", name: reply.name, object: out };
    m.respond(sc.encode(JSON.stringify({ class: "foam.box.Message", attributes: {}, object: out })));
  }
})();
await nc.flush();
const run = () => new Promise((resolve) => {
  execFile(bxctl, ["--url", url + "/nodecalc", "--timeout", "5000", "call", "nodecalc", "add", "40", "2"],
    (err, stdout, stderr) => resolve({ code: err ? err.code : 0, out: stdout.trim(), err: stderr }));
});
const r = await run();
if (r.code === 0 && r.out === "42") ok("bxctl over nats:// calls the node service: " + r.out);
else bad(`bx -> node: exit ${r.code}, stdout '${r.out}', stderr ${r.err}`);

await nc.close();
console.log(failures === 0 ? "all passed" : `${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
