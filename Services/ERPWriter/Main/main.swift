import ERPWriter
import ServiceRuntime

await ServiceMain.run(name: ERPWriterApplication.name, build: ERPWriterApplication.build)
