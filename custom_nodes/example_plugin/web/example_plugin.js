// Example front-end extension served at /extensions/example_plugin/example_plugin.js.
// It tints the example node so users can see that plugin scripts load.
import { app } from "../../scripts/app.js";

app.registerExtension({
  name: "example_plugin.RepeatText",
  nodeCreated(node) {
    if (node.comfyClass === "ExampleRepeatText") {
      node.color = "#335";
      node.bgcolor = "#446";
    }
  },
});
