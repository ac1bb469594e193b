// Node 20 lacks Map.groupBy and Object.groupBy (Node 21+), which vitest 5's reporter uses.
if (typeof Map.groupBy !== "function") {
  Map.groupBy = (items, key) => {
    const map = new Map()
    let index = 0
    for (const item of items) {
      const k = key(item, index++)
      const group = map.get(k)
      if (group) group.push(item)
      else map.set(k, [item])
    }
    return map
  }
}
if (typeof Object.groupBy !== "function") {
  Object.groupBy = (items, key) => {
    const result = Object.create(null)
    let index = 0
    for (const item of items) {
      const k = key(item, index++)
      if (result[k] === undefined) result[k] = []
      result[k].push(item)
    }
    return result
  }
}
