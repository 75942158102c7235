/*
 * carboy admin: search boxes. Every input marked data-autocomplete (a text
 * input taking ids, which works without this script) becomes a combobox:
 * typing asks the admin's autocomplete endpoint for rows, the arrow keys
 * move through them, Enter picks one, Escape closes the list. The chosen
 * rows are listed beside the box, each with a button that removes it; the
 * original input, now hidden, holds their ids, so the form sends what it
 * sent before.
 */
(function () {
  "use strict";

  var counter = 0;

  function make(tag, attrs, text) {
    var element = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      element.setAttribute(name, attrs[name]);
    });
    if (text !== undefined) {
      element.textContent = text;
    }
    return element;
  }

  function enhance(input) {
    var url = input.getAttribute("data-autocomplete");
    var multiple = input.hasAttribute("data-multiple");
    var labels = {};
    try {
      labels = JSON.parse(input.getAttribute("data-labels") || "{}");
    } catch (error) {
      labels = {};
    }
    counter += 1;
    var listId = input.id + "-listbox";
    var chosen = input.value.split(",").map(function (part) {
      return part.trim();
    }).filter(function (part) {
      return part !== "";
    });

    var box = make("input", {
      type: "text",
      id: input.id + "-search",
      "class": "autocomplete-box",
      autocomplete: "off",
      "aria-autocomplete": "list",
      "aria-expanded": "false",
      "aria-controls": listId,
      placeholder: "Type to search"
    });
    box.setAttribute("role", "combobox");
    var label = document.querySelector('label[for="' + input.id + '"]');
    if (label) {
      label.setAttribute("for", box.id);
      label.id = label.id || input.id + "-label";
      box.setAttribute("aria-labelledby", label.id);
    }
    var listbox = make("ul", { id: listId, role: "listbox", "class": "autocomplete-list" });
    listbox.hidden = true;
    var picked = make("ul", { "class": "autocomplete-chosen", "aria-live": "polite" });
    var status = make("span", { "class": "visually-hidden", "aria-live": "polite" });

    input.type = "hidden";
    input.removeAttribute("inputmode");
    var current = document.getElementById(input.id + "-current");
    if (current) {
      current.hidden = true;
    }
    input.insertAdjacentElement("afterend", status);
    input.insertAdjacentElement("afterend", listbox);
    input.insertAdjacentElement("afterend", box);
    input.insertAdjacentElement("afterend", picked);

    var results = [];
    var active = -1;
    var timer = null;
    var request = 0;

    function sync() {
      input.value = chosen.join(", ");
      picked.textContent = "";
      chosen.forEach(function (ident) {
        var item = make("li", { "class": "autocomplete-item" });
        item.appendChild(make("span", {}, labels[ident] || ident));
        var remove = make("button", {
          type: "button",
          "class": "autocomplete-remove",
          "aria-label": "Remove " + (labels[ident] || ident)
        }, "×");
        remove.addEventListener("click", function () {
          chosen = chosen.filter(function (other) {
            return other !== ident;
          });
          sync();
          box.focus();
        });
        item.appendChild(remove);
        picked.appendChild(item);
      });
    }

    function close() {
      listbox.hidden = true;
      box.setAttribute("aria-expanded", "false");
      box.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      var options = listbox.querySelectorAll('[role="option"]');
      options.forEach(function (option, position) {
        option.setAttribute("aria-selected", position === index ? "true" : "false");
      });
      active = index;
      if (index >= 0 && options[index]) {
        box.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else {
        box.removeAttribute("aria-activedescendant");
      }
    }

    function choose(index) {
      var row = results[index];
      if (!row) {
        return;
      }
      labels[row.id] = row.text;
      if (multiple) {
        if (chosen.indexOf(row.id) < 0) {
          chosen.push(row.id);
        }
      } else {
        chosen = [row.id];
      }
      sync();
      box.value = "";
      close();
      status.textContent = row.text + " chosen.";
    }

    function show(rows) {
      results = rows;
      listbox.textContent = "";
      rows.forEach(function (row, index) {
        var option = make("li", {
          id: listId + "-" + index,
          role: "option",
          "aria-selected": "false",
          "class": "autocomplete-option"
        }, row.text);
        option.addEventListener("mousedown", function (event) {
          event.preventDefault();
          choose(index);
        });
        listbox.appendChild(option);
      });
      if (!rows.length) {
        listbox.appendChild(make("li", { "class": "autocomplete-empty" }, "No matches"));
      }
      listbox.hidden = false;
      box.setAttribute("aria-expanded", "true");
      status.textContent = rows.length + (rows.length === 1 ? " result." : " results.");
      highlight(rows.length ? 0 : -1);
    }

    function search() {
      request += 1;
      var mine = request;
      var address = url + "&q=" + encodeURIComponent(box.value.trim()) + "&page=1";
      fetch(address, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.ok ? response.json() : { results: [] };
        })
        .then(function (data) {
          if (mine === request) {
            show(data.results || []);
          }
        })
        .catch(function () {
          close();
        });
    }

    box.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(search, 200);
    });
    box.addEventListener("focus", function () {
      if (!box.value && listbox.hidden) {
        clearTimeout(timer);
        timer = setTimeout(search, 0);
      }
    });
    box.addEventListener("blur", function () {
      setTimeout(close, 150);
    });
    box.addEventListener("keydown", function (event) {
      var count = results.length;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (listbox.hidden) {
          search();
        } else if (count) {
          highlight((active + 1) % count);
        }
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        if (count && !listbox.hidden) {
          highlight((active - 1 + count) % count);
        }
      } else if (event.key === "Enter") {
        if (!listbox.hidden && active >= 0) {
          // Picks the row instead of sending the form.
          event.preventDefault();
          choose(active);
        }
      } else if (event.key === "Escape") {
        if (!listbox.hidden) {
          event.preventDefault();
          close();
        }
      }
    });

    sync();
  }

  function start() {
    document.querySelectorAll("input[data-autocomplete]").forEach(enhance);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
