import Notifier
import ServiceRuntime

await ServiceMain.run(name: NotifierApplication.name, build: NotifierApplication.build)
