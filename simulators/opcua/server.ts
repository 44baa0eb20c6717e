import { join } from 'node:path'
import { DataType, OPCUACertificateManager, OPCUAServer, Variant, MessageSecurityMode, SecurityPolicy, type UAVariable } from 'node-opcua'
import { PlantWattError } from '../../core/errors.ts'
import { MACHINE_STATES, type MachineKind, type MachineSnapshot } from './machine.ts'

/** A machine to expose: its id, kind and a way to get its current values. */
export interface OpcuaMachine {
  id: string
  kind: MachineKind
  snapshot(): MachineSnapshot
}

export interface OpcuaMachineServerOptions {
  /** TCP port; 0 = a free one (default). */
  port?: number
  /** Host name put in the endpoint URL (the server listens on all interfaces). Default 127.0.0.1. */
  hostname?: string
  /** Folder for the server's PKI (own certificate, trusted/rejected). Never the home folder. */
  pkiFolder: string
  /** Name shown in the server's application description. */
  name: string
  machines: readonly OpcuaMachine[]
}

export interface OpcuaMachineServer {
  readonly endpointUrl: string
  readonly port: number
  /** Node ids of each machine's variables, by machine id. */
  readonly nodeIds: Readonly<Record<string, Readonly<Record<MachineVariable, string>>>>
  /** Publishes every machine's current snapshot to its variables (subscribers get the changes). */
  publish(): void
  /** Deletes one machine's variable from the address space (a fault: the node disappears under its clients). */
  removeVariable(machineId: string, variable: MachineVariable): void
  /** The server's own application certificate (DER). */
  certificate(): Buffer
  /** Trusts a client's application certificate (DER) for Sign and SignAndEncrypt. */
  trustCertificate(der: Buffer): Promise<void>
  close(): Promise<void>
}

export const MACHINE_VARIABLES = ['State', 'StateName', 'PowerKw', 'EnergyKwh', 'PartCount', 'Product'] as const
export type MachineVariable = (typeof MACHINE_VARIABLES)[number]

const NAMESPACE_URI = 'urn:plantwatt:simulator:machines'

/**
 * An OPC UA server for one line or cell: Objects/Machines/<id> with State (Int32, the machine_state
 * code; its EnumStrings-like names in StateName), PowerKw, EnergyKwh (Double), PartCount (UInt32)
 * and Product (String). Endpoints: None for plain reads and Basic256Sha256 Sign/SignAndEncrypt;
 * the PKI lives in `pkiFolder` and unknown client certificates are not accepted automatically.
 */
export async function startOpcuaMachineServer(options: OpcuaMachineServerOptions): Promise<OpcuaMachineServer> {
  const serverCertificateManager = new OPCUACertificateManager({ rootFolder: join(options.pkiFolder, 'server'), automaticallyAcceptUnknownCertificate: false })
  const userCertificateManager = new OPCUACertificateManager({ rootFolder: join(options.pkiFolder, 'user'), automaticallyAcceptUnknownCertificate: false })
  const server = new OPCUAServer({
    port: options.port ?? 0,
    hostname: options.hostname ?? '127.0.0.1',
    resourcePath: '/plantwatt',
    serverCertificateManager,
    userCertificateManager,
    securityModes: [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
    securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
    allowAnonymous: true,
    buildInfo: { productName: `PlantWatt simulator: ${options.name}`, manufacturerName: 'PlantWatt' },
    serverInfo: { applicationName: { text: `PlantWatt simulator ${options.name}` } },
  })
  try {
    await server.initialize()
  } catch (cause) {
    throw new PlantWattError('SIM_ERR_OPCUA', `OPC UA server ${options.name}: cannot initialise: ${(cause as Error).message}`, { cause })
  }
  const addressSpace = server.engine.addressSpace
  if (!addressSpace) throw new PlantWattError('SIM_ERR_OPCUA', `OPC UA server ${options.name}: no address space`)
  const ns = addressSpace.registerNamespace(NAMESPACE_URI)
  const folder = ns.addFolder(addressSpace.rootFolder.objects, { browseName: 'Machines' })
  const nsIndex = ns.index
  const variables: { machine: OpcuaMachine; vars: Record<MachineVariable, UAVariable> }[] = []
  const nodeIds: Record<string, Record<MachineVariable, string>> = {}
  const types: Record<MachineVariable, DataType> = {
    State: DataType.Int32,
    StateName: DataType.String,
    PowerKw: DataType.Double,
    EnergyKwh: DataType.Double,
    PartCount: DataType.UInt32,
    Product: DataType.String,
  }
  const variableValue = (s: MachineSnapshot, v: MachineVariable): number | string =>
    v === 'State'
      ? s.state
      : v === 'StateName'
        ? s.stateName
        : v === 'PowerKw'
          ? s.powerKw
          : v === 'EnergyKwh'
            ? s.energyKwh
            : v === 'PartCount'
              ? s.partCount
              : s.product
  for (const machine of options.machines) {
    const obj = ns.addObject({ organizedBy: folder, browseName: machine.id, description: `${machine.kind} ${machine.id}` })
    const vars = {} as Record<MachineVariable, UAVariable>
    const ids = {} as Record<MachineVariable, string>
    for (const v of MACHINE_VARIABLES) {
      const nodeId = `s=${machine.id}.${v}`
      vars[v] = ns.addVariable({
        componentOf: obj,
        browseName: v,
        nodeId,
        dataType: DataType[types[v]] as string,
        minimumSamplingInterval: 100,
        description: v === 'State' ? `machine_state: ${MACHINE_STATES.map((n, i) => `${i} ${n}`).join(', ')}` : v,
      })
      ids[v] = `ns=${nsIndex};${nodeId}`
    }
    variables.push({ machine, vars })
    nodeIds[machine.id] = ids
  }
  const publish = (): void => {
    for (const { machine, vars } of variables) {
      const s = machine.snapshot()
      for (const v of MACHINE_VARIABLES) vars[v].setValueFromSource(new Variant({ dataType: types[v], value: variableValue(s, v) }), undefined, new Date(s.ts))
    }
  }
  publish()
  try {
    await server.start()
  } catch (cause) {
    await server.shutdown().catch(() => undefined)
    throw new PlantWattError('SIM_ERR_LISTEN', `OPC UA server ${options.name}: cannot listen on port ${options.port ?? 0}: ${(cause as Error).message}`, {
      cause,
    })
  }
  const endpointUrl = server.getEndpointUrl()
  const port = Number(new URL(endpointUrl.replace(/^opc\.tcp:/, 'http:')).port)
  let closing: Promise<void> | undefined
  return {
    endpointUrl,
    port,
    nodeIds,
    publish,
    removeVariable(machineId, variable) {
      const entry = variables.find((v) => v.machine.id === machineId)
      if (!entry) throw new PlantWattError('SIM_ERR_OPCUA', `OPC UA server ${options.name}: no machine ${machineId}`)
      const node = entry.vars[variable]
      if (addressSpace.findNode(node.nodeId)) addressSpace.deleteNode(node)
    },
    certificate: () => server.getCertificate(),
    trustCertificate: (der) => serverCertificateManager.trustCertificate(der),
    close() {
      closing ??= server.shutdown(0)
      return closing
    },
  }
}
