// Reads {policies: {name: document}, requests: [{principal, action, resource, account, context,
// identity: [policy names], resourcePolicy: name | null}]} on stdin and writes one decision per
// request on stdout: {result: "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied" | "Error", detail}.
// infra/iam_check.py builds the input from the recorded calls and the template.
import { createValidatedPolicy, validateResourcePolicy } from '@cloud-copilot/iam-policy'
import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const { policies, requests } = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const decisions = []
for (const request of requests) {
  const simulation = {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.account },
      contextVariables: request.context,
    },
    identityPolicies: request.identity.map((name) => ({ name, policy: policies[name] })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: request.resourcePolicy ? policies[request.resourcePolicy] : undefined,
  }
  const response = await runSimulation(simulation, { simulationMode: 'Strict' })
  if (response.resultType === 'error') {
    decisions.push({ result: 'Error', detail: response.errors })
  } else {
    const ignored = (response.resultType === 'single' ? response.result.ignoredContextKeys : []) ?? []
    // iam-simulate 0.1.173 recognises variable context keys only in the `prefix/name` form (tags), so it
    // drops `kms:EncryptionContext:<name>` although KMS documents it for these actions. The request is
    // valid otherwise (it passed validation): evaluate it again with those keys, validation skipped.
    const encryptionContext = ignored.filter((key) => key.toLowerCase().startsWith('kms:encryptioncontext:'))
    if (encryptionContext.length > 0) {
      const kept = Object.fromEntries(
        Object.entries(request.context).filter(([key]) => !ignored.includes(key) || encryptionContext.includes(key))
      )
      // The unsafe entry point loads the resource policy without a name, which its analysis needs.
      const resourcePolicy = simulation.resourcePolicy
        ? createValidatedPolicy(simulation.resourcePolicy, validateResourcePolicy, { name: request.resourcePolicy })
        : undefined
      const rerun = { ...simulation, resourcePolicy, request: { ...simulation.request, contextVariables: kept } }
      const result = runUnsafeSimulation(rerun, { simulationMode: 'Strict' })
      const still = ignored.filter((key) => !encryptionContext.includes(key))
      decisions.push({ result, detail: { ignoredContextKeys: still, unvalidated: encryptionContext } })
    } else {
      decisions.push({ result: response.overallResult, detail: { ignoredContextKeys: ignored } })
    }
  }
}
process.stdout.write(JSON.stringify(decisions))
