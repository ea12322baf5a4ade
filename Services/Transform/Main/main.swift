import Transform
import ServiceRuntime

await ServiceMain.run(name: TransformApplication.name, build: TransformApplication.build)
