import CRMWriter
import ServiceRuntime

await ServiceMain.run(name: CRMWriterApplication.name, build: CRMWriterApplication.build)
