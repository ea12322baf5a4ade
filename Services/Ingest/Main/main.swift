import Ingest
import ServiceRuntime

await ServiceMain.run(name: IngestApplication.name, build: IngestApplication.build)
