// Placeholder until the driver lands: replaced by the AssemblyScript build.
console.log("build-driver: no driver yet");
