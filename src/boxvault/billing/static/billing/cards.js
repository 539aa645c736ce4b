// Card collection with Stripe Elements and a SetupIntent: the card number goes from the browser to Stripe only;
// boxvault receives the PaymentMethod id and attaches it through its API (same permission checks as the page).
(function () {
  "use strict";
  var form = document.getElementById("card-form");
  if (!form || !window.Stripe) { return; }
  var stripe = window.Stripe(form.dataset.publishableKey);
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  var status = document.getElementById("card-status");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    status.textContent = "Saving the card…";
    fetch(form.dataset.setupUrl, { method: "POST", headers: { "X-CSRFToken": csrf }, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (setup) {
        if (!setup.client_secret) { throw new Error(setup.detail || "The card form is not available."); }
        return stripe.confirmCardSetup(setup.client_secret, { payment_method: { card: card } });
      })
      .then(function (result) {
        if (result.error) { throw new Error(result.error.message); }
        return fetch(form.dataset.cardsUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
          body: JSON.stringify({ payment_method: result.setupIntent.payment_method }),
        });
      })
      .then(function (r) {
        if (!r.ok) { return r.json().then(function (b) { throw new Error(b.detail || "The card was refused."); }); }
        window.location.reload();
      })
      .catch(function (error) { status.textContent = error.message; });
  });
})();
